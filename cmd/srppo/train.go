package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/srppo"
)

func init() {
	register(command{name: "pretrain", summary: "pretrain the base model π_pt on corpus.jsonl (next-token loss)", run: runPretrain})
	register(command{name: "sft", summary: "fine-tune π_sft from π_pt on demonstrations (loss on response tokens)", run: runSFT})
}

// modelFlags are the model-shape flags of commands that create a model.
type modelFlags struct {
	layers, dModel, heads, dFF, context *int
	positions                           *string
	untied                              *bool
}

func addModelFlags(fs *flag.FlagSet) modelFlags {
	d := srppo.DefaultConfig(0)
	return modelFlags{
		layers:    fs.Int("layers", d.Layers, "transformer `layers`"),
		dModel:    fs.Int("d-model", d.DModel, "model `width`"),
		heads:     fs.Int("heads", d.Heads, "attention `heads`"),
		dFF:       fs.Int("d-ff", d.DFF, "MLP hidden `width`"),
		context:   fs.Int("context", d.Context, "context `length` in tokens (prompt + response)"),
		positions: fs.String("positions", d.Positions, "position encoding: learned (GPT-2) or rope"),
		untied:    fs.Bool("untied", false, "use a separate output projection instead of tying it to the token embedding"),
	}
}

func (f modelFlags) config(vocab int) srppo.Config {
	c := srppo.DefaultConfig(vocab)
	c.Layers, c.DModel, c.Heads, c.DFF, c.Context, c.Positions, c.TiedEmbeddings = *f.layers, *f.dModel, *f.heads, *f.dFF, *f.context, *f.positions, !*f.untied
	return c
}

// trainFlags are the optimisation flags shared by pretrain and sft.
type trainFlags struct {
	fs                            *flag.FlagSet
	seed                          *uint64
	epochs, batch, warmup, ckEach *int
	minSteps                      *int
	lr, wd, clip                  *float64
	stall                         *time.Duration
}

func addTrainFlags(fs *flag.FlagSet, d srppo.TrainConfig) trainFlags {
	return trainFlags{
		fs:       fs,
		seed:     fs.Uint64("seed", d.Seed, "random `seed` (initialisation and shuffling); same seed and backend give the same weights"),
		epochs:   fs.Int("epochs", d.Epochs, "passes over the training data"),
		minSteps: fs.Int("min-steps", d.MinSteps, "add epochs until at least this many optimiser steps are taken"),
		batch:    fs.Int("batch", d.BatchRows, "batch `rows` of -context tokens (sequences are packed into rows)"),
		warmup:   fs.Int("warmup", d.Optim.WarmupSteps, "linear warm-up `steps` before the cosine decay"),
		ckEach:   fs.Int("checkpoint-every", d.CheckpointEvery, "write a resumable checkpoint every `N` steps (and at each epoch end); 0: epoch ends only"),
		lr:       fs.Float64("lr", d.Optim.LR, "peak learning `rate` (AdamW)"),
		wd:       fs.Float64("weight-decay", d.Optim.WeightDecay, "decoupled weight decay on matrices"),
		clip:     fs.Float64("grad-clip", d.Optim.GradClip, "clip the global gradient norm to this `value` (0: off)"),
		stall:    fs.Duration("stall", 10*time.Minute, "report a stall (with goroutine stacks) and exit if no step finishes for this `long`"),
	}
}

// config returns d with the flags given on the command line applied; the others keep d's values
// (the flags' defaults, except for a pretrained model's fine-tuning defaults).
func (f trainFlags) config(d srppo.TrainConfig) srppo.TrainConfig {
	apply := map[string]func(){
		"seed": func() { d.Seed = *f.seed }, "epochs": func() { d.Epochs = *f.epochs },
		"batch": func() { d.BatchRows = *f.batch }, "checkpoint-every": func() { d.CheckpointEvery = *f.ckEach },
		"min-steps": func() { d.MinSteps = *f.minSteps }, "warmup": func() { d.Optim.WarmupSteps = *f.warmup },
		"lr": func() { d.Optim.LR = *f.lr }, "weight-decay": func() { d.Optim.WeightDecay = *f.wd },
		"grad-clip": func() { d.Optim.GradClip = *f.clip },
	}
	f.fs.Visit(func(fl *flag.Flag) {
		if a, ok := apply[fl.Name]; ok {
			a()
		}
	})
	return d
}

// pretrainedFlags select a pretrained GPT-2 family model as π_pt (instead of -pt).
type pretrainedFlags struct {
	name, dir *string
	context   *int
}

func addPretrainedFlags(fs *flag.FlagSet) pretrainedFlags {
	return pretrainedFlags{
		name: fs.String("model", "", "pretrained `name` on the Hugging Face hub, GPT-2 family ("+strings.Join(srppo.GPT2Models, ", ")+
			") or Llama family ("+strings.Join(srppo.LlamaModels, ", ")+", any Llama/Qwen2/Qwen3/Mistral) as π_pt instead of -pt; downloaded into the hub cache ($HF_HOME, $HF_TOKEN honoured)"),
		dir:     fs.String("model-dir", "", "local `directory` of a Hugging Face checkpoint (config.json, model.safetensors or shards, tokenizer.json, and tokenizer_config.json for the Llama family) to load offline, as -model"),
		context: fs.Int("context", srppo.DefaultPretrainedContext, "with -model or -model-dir: longest prompt + response in `tokens` (shorter is faster and smaller: caches and logits scale with it)"),
	}
}

// set reports whether -model or -model-dir was given.
func (f pretrainedFlags) set() bool { return *f.name != "" || *f.dir != "" }

// load loads the pretrained model.
func (f pretrainedFlags) load() (*srppo.LM, error) {
	return srppo.LoadPretrained(*f.name, *f.dir, *f.context)
}

const pretrainDescription = `
Pretrain the base model π_pt from scratch on DATA/corpus.jsonl with the next-token
loss on every token of "<bos> text <eos>". The last -heldout fraction of documents is
held out and its loss reported after every epoch. A resumable checkpoint (weights,
AdamW state, position in the data) is written atomically to OUT/train; rerunning the
same command after an interruption continues from it and ends with the same weights.
The final model goes to OUT/model (config.json, tokenizer.json, model.safetensors), the loss
curve to OUT/pretrain.json, and the T0 probe of DATA/eval.jsonl to OUT/t0.json.`

func runPretrain(args []string) error {
	fs := newFlagSet("pretrain", "-data DIR -out DIR [flags]", pretrainDescription)
	data := fs.String("data", "", "data `directory` with corpus.jsonl (and tokenizer.json, eval.jsonl) — see 'srppo world'")
	out := fs.String("out", "", "output `directory` for the base model")
	heldOut := fs.Float64("heldout", 0.01, "`fraction` of corpus documents held out for the validation loss")
	allowUnseen := fs.Bool("allow-unseen-words", false, "go on (with a warning) when demonstrations, prompts or eval items use words the corpus never does; their embeddings stay untrained")
	mf := addModelFlags(fs)
	tf := addTrainFlags(fs, srppo.DefaultPretrainConfig())
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *data == "" || *out == "" {
		return errors.New("-data and -out are required (see -h)")
	}
	release, err := lockOutput(*out, "pretrain")
	if err != nil {
		return err
	}
	defer release()
	tok, err := srppo.DataTokenizer(*data)
	if err != nil {
		return err
	}
	seqs, err := srppo.LoadCorpusSequences(filepath.Join(*data, datasets.CorpusFile), tok)
	if err != nil {
		return err
	}
	// Words the later stages use but the corpus never trains are refused before any training.
	if err := srppo.CheckCorpusCoverage(*data); err != nil {
		if !errors.Is(err, srppo.ErrUnseenWords) {
			return err
		}
		if !*allowUnseen {
			return fmt.Errorf("%w\n(or pass -allow-unseen-words to pretrain anyway)", err)
		}
		fmt.Fprintf(os.Stderr, "warning: %v\n", err)
	}
	nHeld := int(float64(len(seqs)) * *heldOut)
	train, held := seqs[:len(seqs)-nHeld], seqs[len(seqs)-nHeld:]
	cfg := tf.config(srppo.DefaultPretrainConfig())
	cfg.CheckpointDir = filepath.Join(*out, "train")
	m, err := srppo.NewLM(mf.config(tok.VocabSize()), cfg.Seed)
	if err != nil {
		return err
	}
	m.Tokenizer, m.Role = tok, srppo.RoleBase
	fmt.Printf("pretrain: %d documents (%d held out), vocabulary %d, model %s (%d parameters), backend %s\n",
		len(seqs), nHeld, tok.VocabSize(), describeModel(m.Config), m.NumParams(), backendName())
	res, err := trainWithProgress(m, train, held, cfg, *tf.stall)
	if err != nil {
		return err
	}
	if err := srppo.SaveModel(filepath.Join(*out, srppo.ModelSubdir), m); err != nil {
		return err
	}
	if err := srppo.WriteJSON(filepath.Join(*out, srppo.PretrainLogFile), map[string]any{
		"command": "srppo " + strings.Join(append([]string{"pretrain"}, args...), " "), "train": cfg, "model": m.Config,
		"result": res, "documents": len(seqs), "held_out_documents": nHeld}); err != nil {
		return err
	}
	printCurve(res)
	return probeT0(m, *data, *out)
}

// trainWithProgress runs srppo.Train with a progress line and a stall watchdog.
func trainWithProgress(m *srppo.LM, train, held []srppo.Sequence, cfg srppo.TrainConfig, stall time.Duration) (*srppo.TrainResult, error) {
	wd := srppo.StartWatchdog(stall, func(idle time.Duration, stacks []byte) {
		fmt.Fprintf(os.Stderr, "\nsrppo: no training step finished for %s — the backend looks stalled (GOMLX_BACKEND=go:ops_sequential is the slower, safe fallback). Rerun the same command to resume from the last checkpoint. Goroutines:\n%s\n", idle.Round(time.Second), stacks)
		os.Exit(3)
	})
	defer wd.Stop()
	bar := newProgressBar("train")
	res, err := srppo.Train(m, train, held, cfg, func(p srppo.Progress) {
		wd.Beat()
		bar.update(p.Step, p.TotalSteps, fmt.Sprintf("epoch %d  loss %.4f  lr %.2e  %5.0f tok/s", p.Epoch+1, p.Loss, p.LR, p.TokensPerSec), p.ETA)
	})
	bar.done()
	return res, err
}

func printCurve(res *srppo.TrainResult) {
	fmt.Printf("\n%6s  %10s  %10s\n", "epoch", "train", "held-out")
	for _, e := range res.Curve {
		mark := ""
		if e.Epoch == res.BestEpoch {
			mark = "  ← best"
		}
		fmt.Printf("%6d  %10.4f  %10.4f%s\n", e.Epoch+1, e.TrainLoss, float64(e.HeldOut), mark)
	}
	fmt.Printf("%d steps, %d loss tokens\n", res.Steps, res.LossTokens)
}

func describeModel(c srppo.Config) string {
	return fmt.Sprintf("%d layers × d%d, %d heads, d_ff %d, context %d, %s positions", c.Layers, c.DModel, c.Heads, c.DFF, c.Context, c.Positions)
}

func backendName() string {
	if b := os.Getenv("GOMLX_BACKEND"); b != "" {
		return b
	}
	return srppo.DefaultBackend
}
