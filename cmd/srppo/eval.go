package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/srppo"
	"github.com/gosrppo/gosrppo/study"
)

func init() {
	register(command{name: "eval", summary: "exact-match evaluation of a model on eval.jsonl, per split", run: runEval})
}

const evalDescription = `
Generate an answer for every item of DATA/eval.jsonl and score it by exact match
of the words between the prompt and the first stop token. -format chat prompts
"<bos> <q> prompt <a>" and stops at <eos>; -format doc probes a base model in the
world's fact format "<bos> prompt =" and stops at ";". Prints EM, EOS %, truncated %
and mean length per split (and per operation and length where items have them),
and writes the full report as JSON with -report.

A GPT-2 checkpoint (from sft or ppo with -model, a local Hugging Face directory, or a
GPT-2 family name on the hub such as distilgpt2) brings its own tokenizer and prompts
"<|endoftext|>Question: prompt\nAnswer:", stopping at <|endoftext|>; its answer matches
when its words equal the gold answer's (spacing ignored). A Llama-family checkpoint (Llama 3,
Qwen2.5, Qwen3, SmolLM2, Mistral) prompts with its own chat template and stops at its end of turn.`

func runEval(args []string) error {
	fs := newFlagSet("eval", "-model DIR -data DIR [flags]", evalDescription)
	modelDir := fs.String("model", "", "model `directory` (from pretrain, sft or ppo), or a GPT-2 or Llama-family name on the Hugging Face hub")
	context := fs.Int("context", srppo.DefaultPretrainedContext, "Hugging Face checkpoints: longest prompt + response in `tokens`")
	data := fs.String("data", "", "data `directory` with eval.jsonl")
	format := fs.String("format", srppo.FormatChat, "prompt format: chat or doc")
	maxNew := fs.Int("max-new", 24, "generation budget in `tokens`")
	samples := fs.Int("samples", 0, "0: greedy decoding; `K` > 0: temperature-1 sampling, K samples per item (pass@1 = mean EM)")
	seed := fs.Uint64("seed", 1, "sampling `seed` (with -samples)")
	report := fs.String("report", "", "write the full report (every item) as JSON to this `file`")
	mem := addMemoryFlag(fs)
	bf16 := fs.Bool("bf16", false, "store the weights in bfloat16 (half the memory; computations stay float32)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelDir == "" || *data == "" {
		return errors.New("-model and -data are required (see -h)")
	}
	dir := *modelDir
	if _, err := os.Stat(dir); err != nil && looksLocal(dir) {
		return fmt.Errorf("-model %s: no such model directory (%w)", dir, err)
	}
	if _, err := os.Stat(dir); err != nil { // a hub repository: downloaded into the cache first
		if dir, err = srppo.DownloadPretrained(dir); err != nil {
			return fmt.Errorf("-model %s is neither a model directory nor a model on the hub: %w", *modelDir, err)
		}
	}
	ctx := 0
	if srppo.IsGPT2Checkpoint(dir) {
		ctx = *context
	}
	mc, err := srppo.ReadModelConfig(dir, ctx)
	if err != nil {
		return err
	}
	if err := mem.check(mc, srppo.MemoryJob{Kind: srppo.JobEval, ScoreRows: 64, WeightBytes: weightBytes(*bf16)}, "srppo eval"); err != nil {
		return err
	}
	m, err := loadModelForData(*modelDir, *data, *context)
	if err == nil && *bf16 {
		err = m.StoreBFloat16()
	}
	if err != nil {
		return err
	}
	items, err := srppo.LoadEvalFor(filepath.Join(*data, datasets.EvalFile), m.Tokenizer, m.Config.Context, *maxNew)
	if err != nil {
		return err
	}
	rep, err := srppo.Evaluate(m, items, srppo.EvalConfig{Format: *format, MaxNew: *maxNew, BatchRows: 64, Samples: *samples, Seed: *seed})
	if err != nil {
		return err
	}
	printReport(rep)
	if *report != "" {
		return srppo.WriteJSON(*report, rep)
	}
	return nil
}

// loadModelForData loads the model of -model for the data directory: a GPT-2 checkpoint (or hub
// name) with its own tokenizer and the context cap, a world model with the data's vocabulary.
func loadModelForData(model, data string, context int) (*srppo.LM, error) {
	if _, err := os.Stat(model); err != nil && looksLocal(model) {
		return nil, fmt.Errorf("-model %s: no such model directory (%w)", model, err)
	}
	if _, err := os.Stat(model); err != nil { // not a directory: a hub repository
		m, err := srppo.LoadPretrained(model, "", context)
		if err != nil {
			return nil, fmt.Errorf("-model %s is neither a model directory nor a GPT-2 model on the hub: %w", model, err)
		}
		return m, nil
	}
	if srppo.IsGPT2Checkpoint(model) {
		return srppo.LoadPretrained("", model, context)
	}
	tok, err := srppo.DataTokenizer(data)
	if err != nil {
		return nil, err
	}
	return srppo.LoadModel(model, nil, tok)
}

// looksLocal reports whether -model names a local path rather than a hub repository ("gpt2",
// "owner/name"): it starts with "/", "." or "~", holds a backslash or more than one "/", ends in
// "/", or its first element is an existing directory here ("runs/ppo" beside a runs directory).
// A missing local path is an error, never a download attempt.
func looksLocal(model string) bool {
	if strings.HasPrefix(model, "/") || strings.HasPrefix(model, ".") || strings.HasPrefix(model, "~") ||
		strings.Contains(model, `\`) || strings.Count(model, "/") > 1 || strings.HasSuffix(model, "/") {
		return true
	}
	if first, _, ok := strings.Cut(model, "/"); ok {
		if info, err := os.Stat(first); err == nil && info.IsDir() {
			return true
		}
	}
	return filepath.Separator != '/' && strings.ContainsRune(model, filepath.Separator)
}

// printReport prints the per-split table and, where items carry operations and lengths, EM by
// operation × length.
func printReport(rep *srppo.EvalReport) { fmt.Print("\n" + study.FormatEval(rep, true)) }

// probeT0 runs table T0 on DATA/eval.jsonl when it exists: document-format EM by operation and
// length, and chat-format zero-shot EM by split; it prints both and writes OUT/t0.json.
func probeT0(m *srppo.LM, data, out string) error {
	path := filepath.Join(data, datasets.EvalFile)
	if _, err := os.Stat(path); err != nil {
		fmt.Printf("no %s: T0 probe skipped\n", path)
		return nil
	}
	items, err := datasets.LoadEval(path)
	if err != nil {
		return err
	}
	t0, err := srppo.ProbeBase(m, items, 64)
	if err != nil {
		return err
	}
	fmt.Println("\nT0 base-model probe")
	if t0.Doc != nil { // the document format needs the world's "=" and ";" in the vocabulary
		printReport(t0.Doc)
	}
	printReport(t0.Chat)
	if t0.Doc != nil {
		fmt.Printf("\ndocument-format EM at in-range lengths, mean over operations: %.3f\n", t0.DocInRangeEM)
	}
	return srppo.WriteJSON(filepath.Join(out, "t0.json"), t0)
}
