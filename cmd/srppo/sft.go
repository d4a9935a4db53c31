package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/srppo"
)

const sftDescription = `
Fine-tune π_sft from the base model π_pt on DATA/demos_N.jsonl in the chat template
("<bos> <q> prompt <a>" → "response <eos>"), with the loss on the response tokens and
<eos> only. The held-out loss on DATA/demos_heldout.jsonl (when present) is measured after
every epoch and the best epoch's weights are written to OUT/model; the last epoch's (the
overfit "SFT-long" model) go to OUT/long. The curve goes to OUT/sft.json, and the
chat-format evaluation on DATA/eval.jsonl is printed.

π_pt is a directory from 'srppo pretrain' (-pt), or a pretrained GPT-2 family model
(-model distilgpt2|gpt2|gpt2-medium, downloaded from the Hugging Face hub, or -model-dir DIR
offline) for free-text data: its byte-level BPE tokenizer reads any text, the template is
"<|endoftext|>Question: prompt\nAnswer:" → " response<|endoftext|>", the training flags
not given default to fine-tuning values (-lr 1e-4, -batch 4, -epochs 5, -min-steps 30), and
OUT/model is a Hugging Face GPT-2 checkpoint that transformers loads. A Llama-family model
(Llama 3, Qwen2.5, Qwen3, SmolLM2, Mistral) uses its own chat template from tokenizer_config.json
(Llama 3's header tokens or ChatML; Qwen3 in non-thinking mode) with its end-of-turn token
(<|eot_id|>, <|im_end|>) as the response's EOS, and OUT/model is a checkpoint of its family.
-memory-limit refuses a run whose memory estimate does not fit, before it loads anything.`

func runSFT(args []string) error {
	fs := newFlagSet("sft", "-data DIR (-pt DIR | -model NAME [-model-dir DIR]) -out DIR [-n N] [flags]", sftDescription)
	data := fs.String("data", "", "data `directory` with demos_N.jsonl")
	pt := fs.String("pt", "", "base model `directory` (from pretrain)")
	pre := addPretrainedFlags(fs)
	out := fs.String("out", "", "output `directory` for π_sft")
	n := fs.Int("n", 1024, "number of demonstrations: reads demos_`N`.jsonl")
	maxNew := fs.Int("max-new", 24, "generation budget of the final evaluation")
	tf := addTrainFlags(fs, srppo.DefaultSFTConfig())
	mem := addMemoryFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *data == "" || *out == "" || (*pt == "") == !pre.set() {
		return errors.New("-data, -out and one of -pt or -model/-model-dir are required (see -h)")
	}
	if pre.set() { // refuse a run that cannot fit before the output directory is created
		mc, err := pre.config()
		if err != nil {
			return err
		}
		if err := mem.check(mc, srppo.MemoryJob{Kind: srppo.JobSFT, TrainRows: tf.config(srppo.DefaultFineTuneConfig()).BatchRows, ScoreRows: 64}, "srppo sft"); err != nil {
			return err
		}
	}
	release, err := lockOutput(*out, "sft")
	if err != nil {
		return err
	}
	defer release()
	var m *srppo.LM
	var tok datasets.TextTokenizer
	cfg := srppo.DefaultSFTConfig()
	if pre.set() {
		if m, err = pre.load(); err != nil {
			return err
		}
		if err := srppo.CheckRole(m, "-model-dir", *pre.dir, printNote, srppo.RoleBase); err != nil {
			return err
		}
		tok, cfg = m.Tokenizer, srppo.DefaultFineTuneConfig()
	} else {
		words, err := srppo.DataTokenizer(*data)
		if err != nil {
			return err
		}
		if m, err = srppo.LoadModel(*pt, nil, words); err != nil {
			return err
		}
		if err := srppo.CheckRole(m, "-pt", *pt, printNote, srppo.RoleBase); err != nil {
			return err
		}
		tok = words
	}
	m.Role = srppo.RoleSFT
	demoPath := filepath.Join(*data, datasets.DemosFile(*n))
	train, held, err := srppo.LoadSFTDataFor(*data, tok, *n, m.Config.Context)
	if err != nil {
		return err
	}
	evalPath := filepath.Join(*data, datasets.EvalFile)
	items, err := srppo.LoadEvalFor(evalPath, tok, m.Config.Context, *maxNew)
	if errors.Is(err, os.ErrNotExist) {
		items = nil // no eval set: training alone is the job
	} else if err != nil {
		return err
	}
	cfg = tf.config(cfg)
	cfg.CheckpointDir = filepath.Join(*out, "train")
	fmt.Printf("sft: %d demonstrations from %s, %d held out, model %s\n", len(train), demoPath, len(held), describeModel(m.Config))
	res, err := trainWithProgress(m, train, held, cfg, *tf.stall)
	if err != nil {
		return err
	}
	printCurve(res)
	if err := srppo.SaveSFT(*out, m, res); err != nil {
		return err
	}
	if err := srppo.WriteJSON(filepath.Join(*out, srppo.SFTLogFile), map[string]any{
		"command": "srppo " + strings.Join(append([]string{"sft"}, args...), " "), "train": cfg, "result": res, "demos": len(train)}); err != nil {
		return err
	}
	if items == nil {
		return nil
	}
	rep, err := srppo.Evaluate(m, items, srppo.EvalConfig{Format: srppo.FormatChat, MaxNew: *maxNew, BatchRows: 64})
	if err != nil {
		return err
	}
	fmt.Printf("\nπ_sft (best epoch %d):", res.BestEpoch+1)
	printReport(rep)
	return nil
}
