package study

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/internal/atomicfile"
	"github.com/gosrppo/gosrppo/plotting"
	"github.com/gosrppo/gosrppo/srppo"
)

// The files and folders of a workspace (OUT):
//
//	OUT/data/                   the generated built-in world (when Workspace.Data is empty)
//	OUT/pt/                     π_pt pretrained from a data directory's corpus (no shipped base)
//	OUT/sft/N<N>-s<seed>/       π_sft (best epoch), long/ its last epoch
//	OUT/ppo/<run>/              PPO runs (srppo.PPORun directories)
//	OUT/stages/<key>.json       a finished stage's result, written last; <key>.seconds its time,
//	                            <key>.lock its claim while computed, <key>.failed its error
//	OUT/invocations/            one file per invocation on OUT
//	OUT/tables.json, tables.md  the tables; OUT/RESULTS.md and OUT/figures/ the write-up
const (
	TablesFile      = "tables.json"
	TablesMDFile    = "tables.md"
	ResultsFile     = "RESULTS.md"
	FiguresDir      = "figures"
	StagesDir       = "stages"
	SecondsFile     = "seconds.json"      // under StagesDir: every stage's seconds, before sharding
	SecondsSuffix   = ".seconds"          // OUT/stages/<key>.seconds: one stage's seconds
	InvocationsFile = "invocations.jsonl" // before sharding; now InvocationsDir
	InvocationsDir  = "invocations"
	// PublishedFigures is the folder, beside a published RESULTS.md, that receives its figures.
	PublishedFigures = "results"
	// PairFigures (under the figures) holds the run figures of the seed-1 token and eos runs.
	PairFigures = "token_vs_eos"
)

// Workspace is where a study lives on disk and how it was invoked.
type Workspace struct {
	Dir string // OUT: every stage is cached here
	// Data is a data directory in the JSONL format; empty: the built-in world of Preset,
	// generated into Dir/data and served by the shipped base model.
	Data   string
	Preset string // built-in world preset ("lean" when empty)
	// ModelShape is π_pt's shape when a data directory is pretrained from its corpus (nil:
	// srppo.DefaultConfig).
	ModelShape func(vocab int) srppo.Config
	// Command names this invocation in its OUT/invocations record and RESULTS.md.
	Command string
	// Publish, when set, also receives RESULTS.md (RESULTS_<budget>.md) and its figures.
	Publish    string
	BudgetName string
	Log        io.Writer // progress lines (nil: os.Stdout)
}

// Study is an open study: the workspace, its budget, the data and base model, and the tables
// filled so far. Its stage methods compute what is missing and load what is cached, so they
// can be called in any order, from any process (a notebook cell, the command line).
type Study struct {
	ws      Workspace
	b       Budget
	ctx     context.Context
	started time.Time

	data     string
	tok      *datasets.Tokenizer
	pt       *srppo.LM
	eval     []datasets.EvalItem
	val      []datasets.EvalItem // the validation split (the sweep selects on it)
	splits   []string
	pool     []srppo.PromptSource
	answers  bool // every PPO prompt has a gold answer (oracle-PPO can run)
	tables   Tables
	baseNote string
	results  map[int][]seedResult // by N, one per seed

	sweepBases map[int]*srppo.LM // the sweep's π_pt variants, loaded

	previousTotal float64 // wall seconds of earlier invocations on the same OUT
	prog          *progress
	invocation    string     // this invocation's file under OUT/invocations
	inv           Invocation // and what it says
	tryClaim      bool       // in Work: a stage held by another worker is skipped, not waited for
}

// Reproduce runs the whole study on ws with budget b: world → π_pt (T0) → for each N: π_sft per
// seed, T3, PPO per placement and evaluation → tables T0–T5 → criteria → figures → RESULTS.md.
// It is Open, Work(0/1) — which computes every stage not yet cached, or waits for the workers of
// a sharded run holding one — and then the stage calls a notebook makes one per cell, which
// load the cached stages, and Finish.
func Reproduce(ctx context.Context, ws Workspace, b Budget) (*Tables, error) {
	s, err := Open(ctx, ws, b)
	if err != nil {
		return nil, err
	}
	// The same loop as a single worker of a sharded run: it computes what is missing and waits
	// for stages other workers hold, so the rendering below only loads cached stages.
	if err := s.Work(Shard{0, 1}); err != nil {
		return nil, err
	}
	if b.Sweep != nil {
		st, err := s.FinishSweep()
		if err != nil {
			return nil, err
		}
		fmt.Fprint(s.log(), "\n"+FormatSweepTables(st))
		return &s.tables, nil
	}
	if err := s.T0(); err != nil {
		return nil, err
	}
	for _, n := range b.Ns {
		if err := s.RunN(n); err != nil {
			return nil, err
		}
	}
	if err := s.Finish(); err != nil {
		return nil, err
	}
	fmt.Fprint(s.log(), "\n"+FormatTables(&s.tables))
	return &s.tables, nil
}

// Open prepares a study on ws: it checks the budget and the workspace layout, records the
// invocation, sets up the data (generating the built-in world when needed) and loads or
// pretrains π_pt.
func Open(ctx context.Context, ws Workspace, b Budget) (*Study, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	if ws.Dir == "" {
		return nil, errors.New("study: the workspace has no directory")
	}
	if ws.Preset == "" {
		ws.Preset = "lean"
	}
	if err := checkLayout(ws.Dir); err != nil {
		return nil, err
	}
	s := &Study{ws: ws, b: b, ctx: ctx, started: time.Now(), results: map[int][]seedResult{}, sweepBases: map[int]*srppo.LM{}}
	s.tables.Budget, s.tables.Command, s.tables.Seconds = b, ws.Command, map[string]float64{}
	s.tables.Build = BuildStamp()
	s.tables.Samples = s.ppoConfig(srppo.PlaceEOS).Samples
	if err := os.MkdirAll(ws.Dir, 0o755); err != nil {
		return nil, err
	}
	if err := s.checkBudgetRecord(); err != nil {
		return nil, err
	}
	s.loadSeconds()
	if err := s.recordInvocation(); err != nil {
		return nil, err
	}
	if err := s.prepareData(); err != nil {
		return nil, err
	}
	s.tables.BaseNote, s.tables.Splits = s.baseNote, s.splits
	s.tables.Model = ModelShape{Layers: s.pt.Config.Layers, DModel: s.pt.Config.DModel}
	s.answers = poolHasAnswers(s.pool)
	if b.Sweep != nil {
		if err := s.loadVal(); err != nil {
			return nil, err
		}
	}
	if !s.answers && slices.Contains(b.T1Modes, srppo.PlaceOracle) {
		why := fmt.Sprintf("oracle-PPO: %s has a prompt without a gold answer (give \"answer\" in prompts.jsonl to run it), so its cells are undefined", datasets.PromptsFile)
		if b.OracleNeedsAnswers == "fail" {
			return nil, errors.New(why)
		}
		s.tables.Skipped = append(s.tables.Skipped, why)
		s.logf("skipped %s", why)
	}
	s.prog = newProgress(s, s.Plan())
	return s, nil
}

// BudgetFile (OUT/budget.json) records the budget settings a workspace's stages were computed
// with; stages are cached by name, so a later invocation with other settings is refused.
const BudgetFile = "budget.json"

// checkBudgetRecord writes OUT/budget.json on first use and refuses a budget that differs from
// it. The seed count and the PPO iterations are left out: more seeds only add stages, and every
// PPO run checks its own iteration count (as π_pt's pretraining checks its epochs).
func (s *Study) checkBudgetRecord() error {
	rec := s.b
	rec.Seeds, rec.Iterations, rec.T2At, rec.PretrainEpoch = 0, 0, nil, 0
	if rec.Sweep != nil {
		sp := *rec.Sweep
		sp.GainIterations = 0
		rec.Sweep = &sp
	}
	path := filepath.Join(s.ws.Dir, BudgetFile)
	if _, err := os.Stat(path); err != nil {
		return srppo.WriteJSON(path, rec)
	}
	var stored Budget
	if err := srppo.ReadJSON(path, &stored); err != nil {
		return err
	}
	if d := srppo.SettingsDiff(stored, rec); d != "" {
		return fmt.Errorf("%s holds stages computed with other budget settings (%s): use a fresh -out, or the budget it was made with", s.ws.Dir, strings.ReplaceAll(d, "checkpoint", "stored"))
	}
	return nil
}

// checkLayout refuses a directory laid out by the notebooks before they shared this layout
// (world/, pt/log.json, sft_N/, ppo/NAME-HASH): its stages are not this study's.
func checkLayout(dir string) error {
	old, _ := filepath.Glob(filepath.Join(dir, "sft_*"))
	if _, err := os.Stat(filepath.Join(dir, "world", datasets.WorldFile)); err == nil {
		old = append(old, filepath.Join(dir, "world"))
	}
	if len(old) > 0 {
		return fmt.Errorf("%s holds the notebooks' old work layout (%s): delete it (rm -r %s) or use another directory; the study caches under data/, sft/, ppo/ and stages/",
			dir, strings.Join(old, ", "), dir)
	}
	return nil
}

// Dir is the workspace directory.
func (s *Study) Dir() string { return s.ws.Dir }

// Budget is the study's budget.
func (s *Study) Budget() Budget { return s.b }

// Splits are the eval splits, in-domain first.
func (s *Study) Splits() []string { return s.splits }

// Tables are the tables filled so far.
func (s *Study) Tables() *Tables { return &s.tables }

// Base is π_pt.
func (s *Study) Base() *srppo.LM { return s.pt }

// DataDir is the data directory the study runs on.
func (s *Study) DataDir() string { return s.data }

func (s *Study) log() io.Writer {
	if s.ws.Log == nil {
		return os.Stdout
	}
	return s.ws.Log
}

func (s *Study) logf(format string, args ...any) {
	fmt.Fprintf(s.log(), "[%s] "+format+"\n", append([]any{time.Since(s.started).Round(time.Second)}, args...)...)
}

// loadSeconds keeps the stage times and total wall time of earlier invocations on OUT, so the
// times reported after a resumed or cached run are those of the work actually done.
func (s *Study) loadSeconds() {
	var prev Tables
	if data, err := os.ReadFile(filepath.Join(s.ws.Dir, TablesFile)); err == nil && json.Unmarshal(data, &prev) == nil {
		for k, v := range prev.Seconds {
			if k == "total" {
				s.previousTotal = v
				continue
			}
			s.tables.Seconds[k] = v
		}
	}
	var stages map[string]float64
	if data, err := os.ReadFile(filepath.Join(s.ws.Dir, StagesDir, SecondsFile)); err == nil && json.Unmarshal(data, &stages) == nil {
		for k, v := range stages {
			s.tables.Seconds[k] = v
		}
	}
	// Each stage's time is its own file (several workers write them), OUT/stages/<key>.seconds.
	files, _ := filepath.Glob(filepath.Join(s.ws.Dir, StagesDir, "*"+SecondsSuffix))
	for _, f := range files {
		var v float64
		if data, err := os.ReadFile(f); err == nil && json.Unmarshal(data, &v) == nil {
			s.tables.Seconds[strings.TrimSuffix(filepath.Base(f), SecondsSuffix)] = v
		}
	}
}

// prepareData sets up the data directory, tokenizer, eval set, prompt pool and base model.
func (s *Study) prepareData() error {
	data := s.ws.Data
	generated := filepath.Join(s.ws.Dir, "data")
	if data == "" {
		data = generated
		// world.json is written last (atomically); under the lock one worker generates the
		// world while the others wait, then find it.
		generate := func() error {
			if _, err := os.Stat(filepath.Join(data, datasets.WorldFile)); err == nil {
				return nil
			}
			w, err := datasets.Preset(s.ws.Preset)
			if err != nil {
				return err
			}
			wd, err := w.Generate(1)
			if err != nil {
				return err
			}
			if err := wd.WriteDir(data); err != nil {
				return err
			}
			s.logf("generated the %s world (seed 1) in %s", s.ws.Preset, data)
			return nil
		}
		if _, err := os.Stat(filepath.Join(data, datasets.WorldFile)); err != nil {
			if err := s.withLock("data", generate); err != nil {
				return err
			}
		}
	}
	s.data = data
	var err error
	if s.tok, err = srppo.DataTokenizer(data); err != nil {
		return err
	}
	// Every file is read and encoded now, so a bad line is an error naming its file and line
	// before any work (lengths are checked against the model's context when it is known).
	if s.eval, err = srppo.LoadEvalFor(filepath.Join(data, datasets.EvalFile), s.tok, 0, 0); err != nil {
		return err
	}
	s.eval = srppo.EvalSlice(s.eval, s.b.EvalPerSplit)
	for _, it := range s.eval {
		if !slices.Contains(s.splits, it.Split) {
			s.splits = append(s.splits, it.Split)
		}
	}
	if s.pool, err = LoadPromptPool(filepath.Join(data, datasets.PromptsFile), "", s.tok, 0, 0); err != nil {
		return err
	}
	// The shipped base model serves the built-in world it was trained on; any other data is
	// pretrained from its own corpus (resumable, cached under OUT/pt).
	if base, err := srppo.BaseModel(s.ws.Preset); err == nil && base.Tokenizer.Equal(s.tok) && data == generated {
		s.pt, s.baseNote = base, "shipped base model srppo/base/"+s.ws.Preset
		return nil
	}
	return s.pretrain()
}

// pretrain trains π_pt on the data directory's corpus.jsonl for the budget's PretrainEpoch
// epochs (a stage like the others: progress, seconds, cache under OUT/pt).
func (s *Study) pretrain() error {
	ptDir := filepath.Join(s.ws.Dir, "pt")
	var done struct{ Epochs int }
	err := s.cached("pretrain", &done, func() error {
		if err := srppo.CheckCorpusCoverage(s.data); errors.Is(err, srppo.ErrUnseenWords) {
			// An eval of words the corpus never uses can be the point (an unseen task): say so.
			s.logf("note: %v", err)
		} else if err != nil {
			return err
		}
		seqs, err := srppo.LoadCorpusSequences(filepath.Join(s.data, datasets.CorpusFile), s.tok)
		if err != nil {
			return err
		}
		nHeld := len(seqs) / 100
		cfg := srppo.DefaultPretrainConfig()
		cfg.Epochs, cfg.CheckpointDir = s.b.PretrainEpoch, filepath.Join(ptDir, "train")
		shape := s.ws.ModelShape
		if shape == nil {
			shape = srppo.DefaultConfig
		}
		m, err := srppo.NewLM(shape(s.tok.VocabSize()), cfg.Seed)
		if err != nil {
			return err
		}
		m.Tokenizer = s.tok
		s.logf("pretraining π_pt on %s (%d documents, %d epochs)", filepath.Join(s.data, datasets.CorpusFile), len(seqs), cfg.Epochs)
		if _, err := srppo.Train(m, seqs[:len(seqs)-nHeld], seqs[len(seqs)-nHeld:], cfg, s.trainProgress("pretrain")); err != nil {
			return err
		}
		done.Epochs = cfg.Epochs
		return srppo.SaveModel(filepath.Join(ptDir, srppo.ModelSubdir), m)
	})
	if err != nil {
		return err
	}
	if done.Epochs != s.b.PretrainEpoch {
		return fmt.Errorf("%s holds π_pt pretrained for %d epochs, this budget wants %d: use a fresh workspace", ptDir, done.Epochs, s.b.PretrainEpoch)
	}
	m, err := srppo.LoadModel(filepath.Join(ptDir, srppo.ModelSubdir), nil, s.tok)
	if err != nil {
		return err
	}
	s.pt, s.baseNote = m, fmt.Sprintf("pretrained from corpus.jsonl for %d epoch(s)", done.Epochs)
	return nil
}

// trainProgress prints a training line about every tenth of the run.
func (s *Study) trainProgress(what string) func(srppo.Progress) {
	next := 0
	return func(p srppo.Progress) {
		if p.TotalSteps == 0 || p.Step*10 < next*p.TotalSteps && p.Step != p.TotalSteps {
			return
		}
		next = p.Step*10/p.TotalSteps + 1
		s.logf("  %s step %d/%d (epoch %d) loss %.4f, ETA %s", what, p.Step, p.TotalSteps, p.Epoch+1, p.Loss, p.ETA.Round(time.Second))
	}
}

// StageDone reports whether the stage key has finished (its result is in OUT/stages).
func (s *Study) StageDone(key string) bool {
	_, err := os.Stat(filepath.Join(s.ws.Dir, StagesDir, key+".json"))
	return err == nil
}

// cached runs fn unless OUT/stages/key.json exists, in which case it loads the stored result
// into v. The stage is claimed first (OUT/stages/key.lock, see Work): a live holder is waited
// for, and the result is checked again after the claim. A computed stage's seconds are
// recorded in OUT/stages/key.seconds, and then its result, atomically and last; a failure is
// recorded in OUT/stages/key.failed.
func (s *Study) cached(key string, v any, fn func() error) error {
	path := s.stagePath(key, ".json")
	if data, err := os.ReadFile(path); err == nil {
		return json.Unmarshal(data, v)
	}
	if err := s.ctx.Err(); err != nil {
		return err
	}
	lock, err := s.claim(key)
	if err != nil {
		return err
	}
	if lock != nil {
		defer lock.Release()
	}
	if data, err := os.ReadFile(path); err == nil {
		return json.Unmarshal(data, v) // another worker finished it meanwhile
	}
	if s.prog != nil {
		s.prog.begin(key)
	}
	start := time.Now()
	if err := fn(); err != nil {
		err = fmt.Errorf("%s: %w", key, err)
		if s.ctx.Err() == nil {
			s.writeFailed(key, err)
		}
		return err
	}
	s.tables.Seconds[key] = time.Since(start).Seconds()
	if s.prog != nil {
		s.prog.end(key, s.tables.Seconds[key])
	}
	if lock != nil && lock.Err() != nil {
		return fmt.Errorf("%s: not committed: %w", key, lock.Err())
	}
	if err := srppo.WriteJSON(s.stagePath(key, SecondsSuffix), s.tables.Seconds[key]); err != nil {
		return err
	}
	return srppo.WriteJSON(path, v)
}

// T0 probes the base model (chat and, on the built-in world, document format).
func (s *Study) T0() error {
	var t0 srppo.T0
	err := s.cached("t0", &t0, func() error {
		res, err := srppo.ProbeBase(s.pt, s.eval, 64)
		if err != nil {
			return err
		}
		t0 = *res
		if t0.Doc != nil {
			s.logf("T0: chat EM %.3f, document-format EM at in-range lengths %.3f", t0.Chat.Overall.EM, t0.DocInRangeEM)
		} else {
			s.logf("T0: chat EM %.3f; document-format probe skipped (it needs the built-in world's `=`/`;` templates)", t0.Chat.Overall.EM)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.tables.T0 = &t0
	return nil
}

// evalResult is one greedy evaluation, per split.
type evalResult struct {
	EM, EOS, Len map[string]float64
	All          srppo.GroupStats
}

func (s *Study) evaluate(key string, m func() (*srppo.LM, error)) (evalResult, error) {
	var res evalResult
	err := s.cached(key, &res, func() error {
		model, err := m()
		if err != nil {
			return err
		}
		res, err = s.greedyEval(model, s.eval)
		return err
	})
	return res, err
}

// greedyEval evaluates a model greedily in the chat format on items, per split.
func (s *Study) greedyEval(m *srppo.LM, items []datasets.EvalItem) (evalResult, error) {
	rep, err := srppo.Evaluate(m, items, srppo.EvalConfig{Format: srppo.FormatChat, MaxNew: s.b.EvalMaxNew, BatchRows: 64})
	if err != nil {
		return evalResult{}, err
	}
	res := evalResult{EM: map[string]float64{}, EOS: map[string]float64{}, Len: map[string]float64{}, All: rep.Overall}
	for _, g := range rep.BySplit {
		res.EM[g.Group], res.EOS[g.Group], res.Len[g.Group] = g.EM, g.EOSRate, g.MeanLen
	}
	return res, nil
}

// SFTDir is π_sft's run directory for N demonstrations and a seed.
func (s *Study) SFTDir(n, seed int) string {
	return filepath.Join(s.ws.Dir, "sft", fmt.Sprintf("N%d-s%d", n, seed))
}

// sft trains (or loads) π_sft for N demos and a seed; it returns the run directory.
func (s *Study) sft(n, seed int) (string, error) {
	dir := s.SFTDir(n, seed)
	var done struct{ BestEpoch int }
	err := s.cached(fmt.Sprintf("sft-N%d-s%d", n, seed), &done, func() error {
		train, held, err := srppo.LoadSFTDataFor(s.data, s.tok, n, s.pt.Config.Context)
		if err != nil {
			return err
		}
		m, err := s.pt.Clone()
		if err != nil {
			return err
		}
		cfg := srppo.DefaultSFTConfig()
		cfg.Seed, cfg.Epochs, cfg.MinSteps = uint64(seed), s.b.SFTEpochs, s.b.SFTMinSteps
		res, err := srppo.Train(m, train, held, cfg, s.trainProgress(fmt.Sprintf("SFT N=%d seed %d", n, seed)))
		if err != nil {
			return err
		}
		done.BestEpoch = res.BestEpoch
		return srppo.SaveSFT(dir, m, res)
	})
	return dir, err
}

// PPODir is the directory of the PPO run called name.
func (s *Study) PPODir(name string) string { return filepath.Join(s.ws.Dir, "ppo", name) }

// ppoRun runs (or resumes) PPO for a variant and returns the metrics and the run directory.
func (s *Study) ppoRun(name string, sftDir string, seed int, cfg srppo.PPOConfig, pool []srppo.PromptSource) ([]srppo.Metrics, string, error) {
	return s.ppoRunOn(name, sftDir, s.pt, seed, s.b.Iterations, cfg, pool)
}

// ppoRunOn runs (or resumes) PPO from the SFT model in sftDir, with pt as π_pt, for iterations.
func (s *Study) ppoRunOn(name string, sftDir string, pt *srppo.LM, seed, iterations int, cfg srppo.PPOConfig, pool []srppo.PromptSource) ([]srppo.Metrics, string, error) {
	dir := s.PPODir(name)
	var done struct{ Iterations int }
	err := s.cached("ppo-"+name, &done, func() error {
		sft, err := srppo.LoadModel(sftDir, &s.pt.Config, s.tok)
		if err != nil {
			return err
		}
		run, err := srppo.NewPPORun(dir, cfg, uint64(seed), sft, pt, pool)
		if err != nil {
			return err
		}
		start, first := time.Now(), run.Iteration
		for run.Iteration < iterations {
			if err := s.ctx.Err(); err != nil {
				return err
			}
			m, _, err := run.Iterate()
			if err != nil {
				return err
			}
			for _, w := range m.Sanity {
				s.logf("SANITY FAILURE %s iteration %d: %s", name, m.Iteration, w)
			}
			if m.Iteration%5 == 0 || run.Iteration == iterations {
				doneIts := run.Iteration - first
				eta := time.Duration(float64(time.Since(start)) / float64(doneIts) * float64(iterations-run.Iteration))
				s.logf("  PPO %s it %d/%d: reward %.2f KL %s len %.1f EOS %.0f%% trunc %.0f%% (%.1fs/it, ETA %s)", name, m.Iteration+1, iterations, m.Reward, FormatKL(m.KL), m.Length, m.EOSPct, m.TruncPct, m.Seconds, eta.Round(time.Second))
			}
		}
		done.Iterations = run.Iteration
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	// Stages are cached by name, not by budget: a run finished with another iteration count (an
	// earlier -iterations on the same OUT) must not be mixed into these tables.
	if done.Iterations != iterations {
		return nil, "", fmt.Errorf("%s holds a PPO run of %d iterations, this budget wants %d: use a fresh -out (or the -iterations it was run with)", dir, done.Iterations, iterations)
	}
	ms, err := srppo.ReadMetrics(dir)
	return ms, dir, err
}

// FormatKL prints a mean KL estimate: k1 (log π − log π_ref, design §3) is unbiased but can be
// negative on a batch, and "-0.000" would read as a bug, so the sign of a zero is dropped.
func FormatKL(kl float64) string {
	s := fmt.Sprintf("%.3f", kl)
	if s == "-0.000" {
		s = "0.000"
	}
	return s
}

// seedResult is what one seed at one N produced: evaluations by method, PPO metrics and run
// directories by variant, and the T3 diagnostics per split.
type seedResult struct {
	evals   map[Method]evalResult
	metrics map[Method][]srppo.Metrics
	dirs    map[Method]string
	t3      []srppo.RewardDiagnostics
}

// variants are the PPO runs at N: the T1 modes, and at the T2 N the T2/T5 extras.
func (s *Study) variants(n int) map[Method]srppo.PPOConfig {
	vs := map[Method]srppo.PPOConfig{}
	for _, mode := range s.b.T1Modes {
		if mode == srppo.PlaceOracle && !s.answers {
			continue
		}
		vs[Method(mode)] = s.ppoConfig(mode)
	}
	if n == s.b.T2N && s.b.T2Extra {
		vs[MethodEOSMean] = s.ppoConfig(srppo.PlaceEOSMean)
		l1 := s.ppoConfig(srppo.PlaceToken)
		l1.Lambda = 1
		vs[MethodTokenLambda1] = l1
		wr := s.ppoConfig(srppo.PlaceToken)
		wr.WhitenRewards = true
		vs[MethodTokenWhitened] = wr
	}
	if n == s.b.T2N && s.b.T5 {
		vs[MethodLogpSFT] = s.ppoConfig(srppo.PlaceLogpSFT)
		vs[MethodZero] = s.ppoConfig(srppo.PlaceZero)
	}
	return vs
}

// runName is the PPO run (and cache key) name of a variant at N and seed.
func runName(m Method, n, seed int) string {
	return fmt.Sprintf("%s-N%d-s%d", strings.ReplaceAll(strings.ReplaceAll(string(m), " ", "_"), "λ", "lambda"), n, seed)
}

// t4RunName is the PPO run name of a T4 prompt pool at N and seed.
func t4RunName(m Method, n, seed int) string {
	return fmt.Sprintf("t4-%s-N%d-s%d", strings.NewReplacer(" ", "_", ":", "", "+", "_").Replace(string(m)), n, seed)
}

func sortedMethods[V any](m map[Method]V) []Method {
	var out []Method
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// SFT trains (or loads) π_sft for N demonstrations and every seed, and evaluates π_pt, π_sft
// and its last epoch.
func (s *Study) SFT(n int) error {
	for seed := 1; seed <= s.b.Seeds; seed++ {
		if _, err := s.sftEvals(n, seed); err != nil {
			return err
		}
	}
	return nil
}

func (s *Study) load(dir string) func() (*srppo.LM, error) {
	return func() (*srppo.LM, error) { return srppo.LoadModel(dir, nil, s.tok) }
}

func (s *Study) sftEvals(n, seed int) (map[Method]evalResult, error) {
	evals := map[Method]evalResult{}
	sftDir, err := s.sft(n, seed)
	if err != nil {
		return nil, err
	}
	if evals[MethodPT], err = s.evaluate("eval-pt", func() (*srppo.LM, error) { return s.pt, nil }); err != nil {
		return nil, err
	}
	if evals[MethodSFT], err = s.evaluate(fmt.Sprintf("eval-sft-N%d-s%d", n, seed), s.load(sftDir)); err != nil {
		return nil, err
	}
	if evals[MethodSFTLong], err = s.evaluate(fmt.Sprintf("eval-sftlong-N%d-s%d", n, seed), s.load(filepath.Join(sftDir, srppo.SFTLongSubdir))); err != nil {
		return nil, err
	}
	return evals, nil
}

// T3 computes the reward diagnostics of π_sft at N for every seed.
func (s *Study) T3(n int) error {
	for seed := 1; seed <= s.b.Seeds; seed++ {
		if _, err := s.t3(n, seed); err != nil {
			return err
		}
	}
	return nil
}

func (s *Study) t3(n, seed int) ([]srppo.RewardDiagnostics, error) {
	sftDir, err := s.sft(n, seed)
	if err != nil {
		return nil, err
	}
	var t3 []srppo.RewardDiagnostics
	err = s.cached(fmt.Sprintf("t3-N%d-s%d", n, seed), &t3, func() error {
		sft, err := srppo.LoadModel(sftDir, nil, s.tok)
		if err != nil {
			return err
		}
		t3, err = srppo.DiagnoseReward(sft, s.pt, srppo.EvalSlice(s.eval, s.b.T3Items), s.b.T3K, s.b.EvalMaxNew, 64, uint64(seed))
		return err
	})
	return t3, err
}

// PPO runs (or loads) every PPO variant at N for every seed, the T4 prompt pools at the T2 N,
// and evaluates each final policy.
func (s *Study) PPO(n int) error {
	for seed := 1; seed <= s.b.Seeds; seed++ {
		if _, err := s.ppoSeed(n, seed); err != nil {
			return err
		}
	}
	return nil
}

func (s *Study) ppoSeed(n, seed int) (seedResult, error) {
	sr := seedResult{evals: map[Method]evalResult{}, metrics: map[Method][]srppo.Metrics{}, dirs: map[Method]string{}}
	sftDir, err := s.sft(n, seed)
	if err != nil {
		return sr, err
	}
	vs := s.variants(n)
	for _, m := range sortedMethods(vs) {
		name := runName(m, n, seed)
		ms, dir, err := s.ppoRun(name, sftDir, seed, vs[m], s.pool)
		if err != nil {
			return sr, err
		}
		sr.metrics[m], sr.dirs[m] = ms, dir
		if sr.evals[m], err = s.evaluate("eval-ppo-"+name, s.load(dir)); err != nil {
			return sr, err
		}
	}
	if n == s.b.T2N && s.b.T4 {
		pools, err := s.t4Pools(n)
		if err != nil {
			return sr, err
		}
		for _, m := range sortedMethods(pools) {
			if len(pools[m]) == 0 {
				continue
			}
			name := t4RunName(m, n, seed)
			_, dir, err := s.ppoRun(name, sftDir, seed, s.ppoConfig(srppo.PlaceEOS), pools[m])
			if err != nil {
				return sr, err
			}
			if sr.evals[m], err = s.evaluate("eval-ppo-"+name, s.load(dir)); err != nil {
				return sr, err
			}
		}
	}
	return sr, nil
}

// t4Pools are T4's prompt pools: the SFT demos' prompts, new in-domain prompts, the whole pool.
func (s *Study) t4Pools(n int) (map[Method][]srppo.PromptSource, error) {
	demos, err := datasets.LoadDemos(filepath.Join(s.data, datasets.DemosFile(n)))
	if err != nil {
		return nil, err
	}
	var sftPool, idPool []srppo.PromptSource
	for _, d := range demos {
		sftPool = append(sftPool, srppo.PromptSource{Prompt: d.Prompt})
	}
	for _, p := range s.pool {
		if p.Split == s.splits[0] {
			idPool = append(idPool, p)
		}
	}
	return map[Method][]srppo.PromptSource{MethodPoolSFT: sftPool, MethodPoolID: idPool, MethodPoolIDOD: s.pool}, nil
}

// RunN runs everything for N demonstrations (SFT, T3, PPO, evaluation, each seed) and adds its
// rows to T1–T5.
func (s *Study) RunN(n int) error {
	var results []seedResult
	for seed := 1; seed <= s.b.Seeds; seed++ {
		evals, err := s.sftEvals(n, seed)
		if err != nil {
			return err
		}
		t3, err := s.t3(n, seed)
		if err != nil {
			return err
		}
		sr, err := s.ppoSeed(n, seed)
		if err != nil {
			return err
		}
		for m, e := range evals {
			sr.evals[m] = e
		}
		sr.t3 = t3
		results = append(results, sr)
	}
	s.results[n] = results
	s.tables.T1 = append(s.tables.T1, BuildT1(n, s.b.T1Modes, s.splits, results)...)
	if n == s.b.T2N {
		s.tables.T2 = append(s.tables.T2, BuildT2(n, s.b.T2At, s.splits, results)...)
		if s.b.T5 {
			s.tables.T5 = append(s.tables.T5, BuildT5(s.tables.T2)...)
		}
		if s.b.T4 {
			s.tables.T4 = append(s.tables.T4, BuildT4(n, s.splits, results)...)
		}
	}
	s.tables.T3 = append(s.tables.T3, BuildT3(n, results)...)
	return nil
}

// poolHasAnswers reports whether every PPO prompt has a gold answer, which the oracle placement
// needs (the built-in world's prompts do; prompts.jsonl may give them in "answer").
func poolHasAnswers(pool []srppo.PromptSource) bool {
	for _, p := range pool {
		if p.Answer == "" {
			return false
		}
	}
	return len(pool) > 0
}

func (s *Study) ppoConfig(mode string) srppo.PPOConfig {
	c := srppo.DefaultPPOConfig(mode)
	c.Prompts = s.b.RolloutPrompt
	if s.b.PPOActorLR > 0 {
		c.ActorLR = s.b.PPOActorLR
	}
	return c
}

// Finish writes tables.json and tables.md, the figures and RESULTS.md (and publishes them when
// the workspace says so). Reproduce then prints the tables, once.
func (s *Study) Finish() error {
	s.tables.Seconds["total"] = s.totalSeconds()
	if err := atomicfile.WriteFile(filepath.Join(s.ws.Dir, TablesMDFile), []byte(FormatTables(&s.tables))); err != nil {
		return err
	}
	figures, err := s.Figures(filepath.Join(s.ws.Dir, FiguresDir))
	if err != nil {
		return err
	}
	s.tables.Figures = nil
	for _, f := range figures {
		s.tables.Figures = append(s.tables.Figures, figureRel(f))
	}
	s.tables.LengthFits = s.lengthFits()
	if err := srppo.WriteJSON(filepath.Join(s.ws.Dir, TablesFile), s.tables); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(s.ws.Dir, ResultsFile), []byte(RenderResults(&s.tables, FiguresDir, DesignLink(s.ws.Dir)))); err != nil {
		return err
	}
	if s.ws.Publish != "" {
		if err := s.publish(figures); err != nil {
			return err
		}
	}
	s.updateInvocation()
	s.logf("done; tables in %s, %s and %d figures in %s", filepath.Join(s.ws.Dir, TablesMDFile), filepath.Join(s.ws.Dir, ResultsFile), len(figures), filepath.Join(s.ws.Dir, FiguresDir))
	return nil
}

// lengthFits fits coherent reward against response length in the last rollout of the seed-1
// eos and token runs at the T2 N (the length discussion quotes them).
func (s *Study) lengthFits() []LengthFit {
	res := s.results[s.b.T2N]
	if len(res) == 0 {
		return nil
	}
	var fits []LengthFit
	for _, m := range []Method{MethodEOS, MethodToken} {
		dir, ok := res[0].dirs[m]
		if !ok {
			continue
		}
		r, _, err := lastRollout(dir)
		if err != nil || r == nil {
			continue
		}
		lengths, rewards, err := plotting.RewardLengthFromRollout(r)
		if err != nil {
			continue
		}
		if slope, _, corr, err := plotting.LinearFit(lengths, rewards); err == nil {
			fits = append(fits, LengthFit{Mode: string(m), Slope: slope, Corr: corr})
		}
	}
	return fits
}
