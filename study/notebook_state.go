package study

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"time"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/srppo"
)

// Notebook holds the knobs and the on-disk state shared by the GoNB notebooks in notebooks/.
// GoNB runs every cell as a new process, so state lives in files under Dir:
//
//	Dir/world/         the synthetic world (datasets.WorldData.WriteDir)
//	Dir/pt/model/      π_pt; Dir/pt/train/ its resumable checkpoint; Dir/pt/log.json its loss log
//	Dir/sft_N/model/   π_sft on N demonstrations (best epoch); Dir/sft_N/long/ the last epoch;
//	                   Dir/sft_N/sft.json the overfitting curve
//	Dir/ppo/NAME-HASH/ PPO runs (PPORun directories), one per name and config
//	Dir/NAME/          step-by-step PPO sessions (PPOSteps)
//
// The Ensure… methods create what is missing (so that every notebook runs on its own in a fresh
// clone) and load what is there. Changing a knob of the world or a model after its files exist
// is an error that says which directory to delete; PPO runs are keyed by their config instead.
type Notebook struct {
	Full bool   // the full-size run (design §4) instead of the small CI config
	Dir  string // WORK/small or WORK/full
	Seed int64  // world seed; model seeds are in Pretrain and SFT
	// Preset names the world preset; with Full, EnsureBase starts from its shipped base model
	// (srppo.BaseModel) when the binary has one, instead of pretraining.
	Preset string

	World           datasets.World
	Model           srppo.Config // VocabSize is set from the world's tokenizer
	Pretrain        srppo.TrainConfig
	PretrainHeldOut float64 // fraction of corpus documents held out for the validation loss
	SFT             srppo.TrainConfig
	Demos           int   // N of notebooks 02–04
	DemoSizes       []int // N of notebook 05's SFT rows
	PPODemoSizes    []int // N of notebook 05's PPO rows
	PPO             srppo.PPOConfig
	Iterations      int // PPO iterations per run in notebooks 04 and 05
	EvalPerSplit    int // eval items per split the notebooks evaluate on
	EvalEvery       int // PPO runs evaluate greedy EM every EvalEvery iterations

	// Log receives progress lines (nil: os.Stdout).
	Log io.Writer
}

// NewNotebook returns the notebooks' configuration: with full = false the small config the
// notebook checker runs in a few minutes on two cores (a 1500-document world, a 2-layer d=64
// model, one pretraining epoch, a few PPO iterations of 16 prompts), with full = true the
// design's sizes (the lean world, the 2×128 model, three pretraining epochs, 200 PPO iterations
// of 64 prompts × 2 samples). The work directory is $GOSRPPO_NOTEBOOK_WORK or ".work".
func NewNotebook(full bool) *Notebook {
	work := os.Getenv(NotebookWorkEnv)
	if work == "" {
		work = ".work"
	}
	nb := &Notebook{
		Full:            true,
		Preset:          "lean",
		Dir:             filepath.Join(work, "full"),
		Seed:            1,
		World:           datasets.Lean(),
		Model:           srppo.DefaultConfig(0),
		Pretrain:        srppo.DefaultPretrainConfig(),
		PretrainHeldOut: 0.01,
		SFT:             srppo.DefaultSFTConfig(),
		Demos:           64,
		DemoSizes:       []int{16, 64, 256, 1024},
		PPODemoSizes:    []int{16, 64, 256, 1024},
		PPO:             srppo.DefaultPPOConfig(srppo.PlaceEOS),
		Iterations:      200,
		EvalPerSplit:    500,
		EvalEvery:       10,
	}
	nb.Pretrain.Epochs = 3
	if full {
		return nb
	}
	nb.Full, nb.Dir = false, filepath.Join(work, "small")
	nb.World.CorpusDocs, nb.World.PromptPool, nb.World.EvalPerSplit, nb.World.HeldOutDemos = 1500, 600, 100, 64
	nb.Model.DModel, nb.Model.DFF = 64, 256
	nb.Pretrain.Epochs, nb.Pretrain.BatchRows, nb.Pretrain.Optim.WarmupSteps, nb.Pretrain.CheckpointEvery = 1, 16, 10, 50
	// Spelled out rather than derived from DefaultSFTConfig, so that no minimum step count of the
	// defaults stretches the small run: 30 epochs of rows of 4 (about 90 steps at N = 64).
	sftOptim := srppo.DefaultSFTConfig().Optim
	sftOptim.LR = 3e-3
	nb.SFT = srppo.TrainConfig{Seed: 1, BatchRows: 4, Epochs: 30, Optim: sftOptim}
	nb.DemoSizes, nb.PPODemoSizes = []int{16, 64}, []int{16}
	// A larger actor learning rate than the design's 2e-5, so that a few iterations move the policy.
	nb.PPO.Prompts, nb.PPO.MaxNew, nb.PPO.Minibatch, nb.PPO.ActorLR = 16, 16, 16, 1e-4
	nb.Iterations, nb.EvalPerSplit, nb.EvalEvery = 6, 40, 3
	return nb
}

func (nb *Notebook) log() io.Writer {
	if nb.Log == nil {
		return os.Stdout
	}
	return nb.Log
}

// DataDir is the world's directory.
func (nb *Notebook) DataDir() string { return filepath.Join(nb.Dir, "world") }

// notebookWorld is world.json as WriteDir writes it.
type notebookWorld struct {
	Seed  int64          `json:"seed"`
	World datasets.World `json:"world"`
}

// EnsureWorld writes the world's files to DataDir unless they are there. Existing files written
// with other knobs are an error: the models in Dir were trained on them.
func (nb *Notebook) EnsureWorld() error {
	path := filepath.Join(nb.DataDir(), datasets.WorldFile)
	var have notebookWorld
	err := srppo.ReadJSON(path, &have)
	switch {
	case err == nil:
		if have.Seed != nb.Seed || !reflect.DeepEqual(have.World, nb.World) {
			return fmt.Errorf("%s was generated with other world knobs or seed; delete %s (the models there were trained on it) or set %s to another directory", path, nb.Dir, NotebookWorkEnv)
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	d, err := nb.World.Generate(nb.Seed)
	if err != nil {
		return err
	}
	if err := d.WriteDir(nb.DataDir()); err != nil {
		return err
	}
	fmt.Fprintf(nb.log(), "world written to %s: %d corpus documents, %d prompts in the pool, %d eval items\n", nb.DataDir(), len(d.Corpus), len(d.Prompts), len(d.Eval))
	return nil
}

// LoadWorld generates the world in memory (deterministic: the same data EnsureWorld writes), for
// looking at it.
func (nb *Notebook) LoadWorld() (*datasets.WorldData, error) { return nb.World.Generate(nb.Seed) }

// Tokenizer returns the world's tokenizer (writing the world first if needed).
func (nb *Notebook) Tokenizer() (*datasets.Tokenizer, error) {
	if err := nb.EnsureWorld(); err != nil {
		return nil, err
	}
	return srppo.DataTokenizer(nb.DataDir())
}

// EvalItems returns the first EvalPerSplit items of every eval split.
func (nb *Notebook) EvalItems() ([]datasets.EvalItem, error) {
	if err := nb.EnsureWorld(); err != nil {
		return nil, err
	}
	items, err := datasets.LoadEval(filepath.Join(nb.DataDir(), datasets.EvalFile))
	if err != nil {
		return nil, err
	}
	return srppo.EvalSlice(items, nb.EvalPerSplit), nil
}

// PromptPool returns the PPO prompt pool with gold answers (the world answers its own prompts),
// so that the oracle reward and the rollouts' exact-match rate work.
func (nb *Notebook) PromptPool() ([]srppo.PromptSource, error) {
	if err := nb.EnsureWorld(); err != nil {
		return nil, err
	}
	prompts, err := datasets.LoadPrompts(filepath.Join(nb.DataDir(), datasets.PromptsFile))
	if err != nil {
		return nil, err
	}
	pool := make([]srppo.PromptSource, len(prompts))
	for i, p := range prompts {
		ans, err := datasets.AnswerPrompt(p.Prompt)
		if err != nil {
			return nil, fmt.Errorf("prompt %d: %w", i+1, err)
		}
		pool[i] = srppo.PromptSource{Prompt: p.Prompt, Split: p.Split, Answer: ans}
	}
	return pool, nil
}

// TrainLog is the record of a training run for plotting: the loss of every step and the
// per-epoch curve.
type TrainLog struct {
	Step    []int              `json:"step"`
	Loss    []float64          `json:"loss"`
	Result  *srppo.TrainResult `json:"result"`
	Config  srppo.TrainConfig  `json:"config"`
	Model   srppo.Config       `json:"model"`
	Seconds float64            `json:"seconds"`
	Docs    int                `json:"documents,omitempty"`
	Demos   int                `json:"demos,omitempty"`
	Note    string             `json:"note,omitempty"`
}

// Progress returns a training progress callback that prints about every tenth step (and the
// last), with loss, throughput and ETA, prefixed by label.
func (nb *Notebook) Progress(label string) func(srppo.Progress) {
	return func(p srppo.Progress) {
		every := max(p.TotalSteps/10, 1)
		if p.Step%every == 0 || p.Step == p.TotalSteps || p.Step == 1 {
			fmt.Fprintf(nb.log(), "%s: step %d/%d  epoch %d  loss %.4f  %5.0f tok/s  ETA %s\n",
				label, p.Step, p.TotalSteps, p.Epoch+1, p.Loss, p.TokensPerSec, p.ETA.Round(time.Second))
		}
	}
}

// BaseDir is π_pt's run directory.
func (nb *Notebook) BaseDir() string { return filepath.Join(nb.Dir, "pt") }

// EnsureBase returns π_pt: loaded from BaseDir when it is there; otherwise, for the full-size
// run, the shipped base model of the preset (srppo.BaseModel) when there is one; otherwise
// pretrained from scratch on the world's corpus (resumable: an interrupted run continues from
// BaseDir/train). The model is saved to BaseDir/model and its loss log to BaseDir/log.json
// (without steps for a shipped model: its Note says where it comes from).
func (nb *Notebook) EnsureBase() (*srppo.LM, error) {
	tok, err := nb.Tokenizer()
	if err != nil {
		return nil, err
	}
	cfg := nb.Model
	cfg.VocabSize = tok.VocabSize()
	modelDir := filepath.Join(nb.BaseDir(), srppo.ModelSubdir)
	if _, err := os.Stat(filepath.Join(modelDir, srppo.ConfigFile)); err == nil {
		m, err := srppo.LoadModel(modelDir, &cfg, tok)
		if err != nil {
			return nil, fmt.Errorf("%w (delete %s to pretrain again with the current knobs)", err, nb.BaseDir())
		}
		return m, nil
	}
	if nb.Full && nb.Preset != "" {
		if m, err := srppo.BaseModel(nb.Preset); err == nil && m.Config == cfg && m.Tokenizer.Equal(tok) {
			fmt.Fprintf(nb.log(), "using the shipped base model of preset %q (srppo/base/%s)\n", nb.Preset, nb.Preset)
			if err := srppo.SaveModel(modelDir, m); err != nil {
				return nil, err
			}
			log := &TrainLog{Model: cfg, Note: fmt.Sprintf("shipped base model of preset %q: see srppo/base/%s/PRETRAIN.md for its command, token count and T0 numbers", nb.Preset, nb.Preset)}
			return m, srppo.WriteJSON(filepath.Join(nb.BaseDir(), "log.json"), log)
		}
	}
	docs, err := datasets.LoadCorpus(filepath.Join(nb.DataDir(), datasets.CorpusFile))
	if err != nil {
		return nil, err
	}
	seqs, err := srppo.EncodeCorpus(tok, docs)
	if err != nil {
		return nil, err
	}
	nHeld := int(float64(len(seqs)) * nb.PretrainHeldOut)
	train, held := seqs[:len(seqs)-nHeld], seqs[len(seqs)-nHeld:]
	tc := nb.Pretrain
	tc.CheckpointDir = filepath.Join(nb.BaseDir(), "train")
	m, err := srppo.NewLM(cfg, tc.Seed)
	if err != nil {
		return nil, err
	}
	m.Tokenizer = tok
	fmt.Fprintf(nb.log(), "pretraining π_pt: %d documents (%d held out), %d parameters, %d epoch(s)\n", len(train), nHeld, m.NumParams(), tc.Epochs)
	log := &TrainLog{Config: tc, Model: cfg, Docs: len(docs)}
	res, err := nb.train(m, train, held, tc, "pretrain", log)
	if err != nil {
		return nil, err
	}
	log.Result = res
	if err := srppo.SaveModel(modelDir, m); err != nil {
		return nil, err
	}
	return m, srppo.WriteJSON(filepath.Join(nb.BaseDir(), "log.json"), log)
}

// train runs Train with printed progress, recording every step's loss in log.
func (nb *Notebook) train(m *srppo.LM, train, held []srppo.Sequence, tc srppo.TrainConfig, label string, log *TrainLog) (*srppo.TrainResult, error) {
	start := time.Now()
	printer := nb.Progress(label)
	res, err := srppo.Train(m, train, held, tc, func(p srppo.Progress) {
		log.Step = append(log.Step, p.Step)
		log.Loss = append(log.Loss, p.Loss)
		printer(p)
	})
	log.Seconds = time.Since(start).Seconds()
	return res, err
}

// BaseLog reads the loss log of π_pt written by EnsureBase.
func (nb *Notebook) BaseLog() (*TrainLog, error) {
	var log TrainLog
	if err := srppo.ReadJSON(filepath.Join(nb.BaseDir(), "log.json"), &log); err != nil {
		return nil, err
	}
	return &log, nil
}

// SFTDir is the run directory of π_sft on n demonstrations.
func (nb *Notebook) SFTDir(n int) string { return filepath.Join(nb.Dir, fmt.Sprintf("sft_%d", n)) }

// EnsureSFT returns π_sft fine-tuned from π_pt on the first n demonstrations (the best epoch by
// held-out loss) and its training log (with the overfitting curve): loaded from SFTDir(n) when
// it is there, trained otherwise. The last epoch's weights ("SFT-long") are in SFTDir(n)/long.
func (nb *Notebook) EnsureSFT(n int) (*srppo.LM, *TrainLog, error) {
	pt, err := nb.EnsureBase()
	if err != nil {
		return nil, nil, err
	}
	dir := nb.SFTDir(n)
	logPath := filepath.Join(dir, srppo.SFTLogFile)
	if _, err := os.Stat(logPath); err == nil {
		var log TrainLog
		if err := srppo.ReadJSON(logPath, &log); err != nil {
			return nil, nil, err
		}
		m, err := srppo.LoadModel(filepath.Join(dir, srppo.ModelSubdir), &pt.Config, pt.Tokenizer)
		if err != nil {
			return nil, nil, fmt.Errorf("%w (delete %s to fine-tune again)", err, dir)
		}
		return m, &log, nil
	}
	if !slices.Contains(nb.World.DemoSizes, n) {
		return nil, nil, fmt.Errorf("no demonstration set of size %d (the world has %v)", n, nb.World.DemoSizes)
	}
	train, held, err := srppo.LoadSFTData(nb.DataDir(), pt.Tokenizer, n)
	if err != nil {
		return nil, nil, err
	}
	m, err := pt.Clone()
	if err != nil {
		return nil, nil, err
	}
	tc := nb.SFT
	tc.CheckpointDir = filepath.Join(dir, "train")
	fmt.Fprintf(nb.log(), "SFT of π_pt on %d demonstrations (%d held out), %d epochs\n", n, len(held), tc.Epochs)
	log := &TrainLog{Config: tc, Model: m.Config, Demos: n}
	res, err := nb.train(m, train, held, tc, fmt.Sprintf("sft N=%d", n), log)
	if err != nil {
		return nil, nil, err
	}
	log.Result = res
	if err := srppo.SaveSFT(dir, m, res); err != nil {
		return nil, nil, err
	}
	return m, log, srppo.WriteJSON(logPath, log)
}

// LoadSFTLong returns the last epoch's weights of π_sft on n demonstrations ("SFT-long", the
// overfit model of table T1), fine-tuning first if needed.
func (nb *Notebook) LoadSFTLong(n int) (*srppo.LM, error) {
	sft, _, err := nb.EnsureSFT(n)
	if err != nil {
		return nil, err
	}
	return srppo.LoadModel(filepath.Join(nb.SFTDir(n), srppo.SFTLongSubdir), &sft.Config, sft.Tokenizer)
}

// PPOConfig returns the notebook's PPO knobs with the given reward placement mode.
func (nb *Notebook) PPOConfig(mode string) srppo.PPOConfig {
	c := nb.PPO
	c.Mode = mode
	return c
}

// RunDir is the directory of the PPO run called name with config cfg: Dir/ppo/NAME-HASH, where
// HASH is a short hash of the config, so that changing a knob starts a new run and keeps the old.
func (nb *Notebook) RunDir(name string, cfg srppo.PPOConfig) string {
	data, _ := json.Marshal(cfg)
	h := uint32(2166136261) // FNV-1a
	for _, b := range data {
		h = (h ^ uint32(b)) * 16777619
	}
	return filepath.Join(nb.Dir, "ppo", fmt.Sprintf("%s-%08x", name, h))
}

// OpenPPO starts (or resumes) the PPO run called name from π_sft with config cfg, prompts from
// the world's pool and greedy EM on the notebook's eval items every EvalEvery iterations.
func (nb *Notebook) OpenPPO(name string, cfg srppo.PPOConfig, sft *srppo.LM) (*srppo.PPORun, error) {
	pt, err := nb.EnsureBase()
	if err != nil {
		return nil, err
	}
	pool, err := nb.PromptPool()
	if err != nil {
		return nil, err
	}
	items, err := nb.EvalItems()
	if err != nil {
		return nil, err
	}
	run, err := srppo.NewPPORun(nb.RunDir(name, cfg), cfg, uint64(nb.Seed), sft, pt, pool)
	if err != nil {
		return nil, err
	}
	run.Eval, run.EvalEvery = items, nb.EvalEvery
	return run, nil
}

// LoadPolicy loads the current policy of the PPO run called name with config cfg.
func (nb *Notebook) LoadPolicy(name string, cfg srppo.PPOConfig) (*srppo.LM, error) {
	tok, err := nb.Tokenizer()
	if err != nil {
		return nil, err
	}
	return srppo.LoadModel(filepath.Join(nb.RunDir(name, cfg), srppo.ModelSubdir), nil, tok)
}

// OpenSteps opens the step-by-step PPO session Dir/name (see PPOSteps) from π_sft on Demos
// demonstrations and π_pt, with config cfg.
func (nb *Notebook) OpenSteps(name string, cfg srppo.PPOConfig) (*srppo.PPOSteps, error) {
	pt, err := nb.EnsureBase()
	if err != nil {
		return nil, err
	}
	sft, _, err := nb.EnsureSFT(nb.Demos)
	if err != nil {
		return nil, err
	}
	pool, err := nb.PromptPool()
	if err != nil {
		return nil, err
	}
	s, err := srppo.OpenPPOSteps(filepath.Join(nb.Dir, name), cfg, uint64(nb.Seed), sft, pt, pool)
	if err != nil {
		return nil, err
	}
	s.Log = nb.Log
	return s, nil
}

// RunPPO runs (or resumes) run up to iterations, printing one line per iteration (and every
// sanity failure), and returns the metrics of every iteration done so far.
func (nb *Notebook) RunPPO(run *srppo.PPORun, iterations int) ([]srppo.Metrics, error) {
	w := nb.log()
	if run.Iteration < iterations {
		fmt.Fprintf(w, "ppo %s (mode %s): iterations %d → %d\n", filepath.Base(run.Dir), run.Config.Mode, run.Iteration, iterations)
		fmt.Fprintf(w, "%5s %8s %7s %6s %6s %6s %7s %6s %6s  %s\n", "iter", "reward", "KL", "len", "EOS%", "trunc%", "clip", "ent", "sec", "eval EM")
	}
	for run.Iteration < iterations {
		m, _, err := run.Iterate()
		if err != nil {
			return nil, err
		}
		em := ""
		for _, k := range slices.Sorted(maps.Keys(m.EvalEM)) {
			em += fmt.Sprintf("%s %.2f  ", k, m.EvalEM[k])
		}
		fmt.Fprintf(w, "%5d %8.3f %7.3f %6.2f %6.1f %6.1f %7.3f %6.3f %6.1f  %s\n", m.Iteration, m.Reward, m.KL, m.Length, m.EOSPct, m.TruncPct, m.ClipFrac, m.Entropy, m.Seconds, em)
		for _, s := range m.Sanity {
			fmt.Fprintf(w, "SANITY FAILURE at iteration %d: %s\n", m.Iteration, s)
		}
	}
	return srppo.ReadMetrics(run.Dir)
}
