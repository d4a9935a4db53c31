package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
when its words equal the gold answer's (spacing ignored).`

func runEval(args []string) error {
	fs := newFlagSet("eval", "-model DIR -data DIR [flags]", evalDescription)
	modelDir := fs.String("model", "", "model `directory` (from pretrain, sft or ppo), or a GPT-2 family name on the Hugging Face hub")
	context := fs.Int("context", srppo.DefaultPretrainedContext, "GPT-2 checkpoints: longest prompt + response in `tokens`")
	data := fs.String("data", "", "data `directory` with eval.jsonl")
	format := fs.String("format", srppo.FormatChat, "prompt format: chat or doc")
	maxNew := fs.Int("max-new", 24, "generation budget in `tokens`")
	samples := fs.Int("samples", 0, "0: greedy decoding; `K` > 0: temperature-1 sampling, K samples per item (pass@1 = mean EM)")
	seed := fs.Uint64("seed", 1, "sampling `seed` (with -samples)")
	report := fs.String("report", "", "write the full report (every item) as JSON to this `file`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelDir == "" || *data == "" {
		return errors.New("-model and -data are required (see -h)")
	}
	m, err := loadModelForData(*modelDir, *data, *context)
	if err != nil {
		return err
	}
	items, err := datasets.LoadEval(filepath.Join(*data, datasets.EvalFile))
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
	printReport(t0.Doc)
	printReport(t0.Chat)
	fmt.Printf("\ndocument-format EM at in-range lengths, mean over operations: %.3f\n", t0.DocInRangeEM)
	return srppo.WriteJSON(filepath.Join(out, "t0.json"), t0)
}
