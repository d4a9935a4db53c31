package main

import (
	"encoding/json"

	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/srppo"
)

func init() {
	register(command{name: "reproduce", summary: "the whole study: world → π_pt → π_sft → PPO per mode → tables T0–T5 and figures", run: runReproduce})
}

const reproduceDescription = `
Reproduce the paper's study at toy scale (design §6). From a data directory in the JSONL
format (default: the built-in world of -preset, generated into OUT/data, starting from the
shipped base model; a -data directory is pretrained from its corpus.jsonl) it runs, for every
demonstration count N and seed of the budget: SFT (best epoch on held-out demos, and the
overfit last epoch), the reward diagnostics T3, PPO in each placement mode, and greedy
evaluation per split (splits come from eval.jsonl). It prints the tables T0–T5 (mean ± sd over
seeds) as it goes and writes OUT/tables.md and OUT/tables.json. Every stage is cached under OUT:
an interrupted run continues where it stopped.

Budgets:
  quick   ≤ 20 min on 2 cores: N = 64, one seed, 25 PPO iterations of 64 prompts × 2 samples
          for eos, token and oracle, 100 eval items per split.
  grid    N = 16, 64, 1024, three seeds, every mode with 20 iterations, T2/T4/T5 at N = 64:
          51 PPO runs; 57 min on 2 cores with a GOEXPERIMENT=simd build at about 2 s per
          iteration, roughly 3× that with the plain build (-iterations goes longer).
  length  T2 over 100 iterations: eos, token and the zero-reward control at N = 64, three
          seeds (criterion (b)).
  smoke   every stage in seconds (the CI test).
With -publish DIR, RESULTS.md and its figures (results/) are also written into DIR; budgets other
than grid write RESULTS_<budget>.md and results_<budget>/.`

// budget sizes a reproduction.
type budget struct {
	Ns            []int    `json:"ns"`
	Seeds         int      `json:"seeds"`
	T1Modes       []string `json:"t1_modes"`
	T2Extra       bool     `json:"t2_extra"` // eos_mean, token λ=1, token whitened at the T2 N
	T4            bool     `json:"t4"`
	T5            bool     `json:"t5"`
	T2N           int      `json:"t2_n"`
	Iterations    int      `json:"iterations"`
	T2At          []int    `json:"t2_at"` // rollout iterations (from 0) at which T2 reports length
	RolloutPrompt int      `json:"rollout_prompts"`
	EvalPerSplit  int      `json:"eval_per_split"`
	T3Items       int      `json:"t3_items_per_split"`
	T3K           int      `json:"t3_k"`
	SFTEpochs     int      `json:"sft_epochs"`
	SFTMinSteps   int      `json:"sft_min_steps"`
	PretrainEpoch int      `json:"pretrain_epochs"` // for a -data directory without a shipped base
}

var budgets = map[string]budget{
	// smoke exercises every stage in seconds on a tiny world and model (the CI test).
	"smoke": {Ns: []int{16}, Seeds: 2, T1Modes: []string{srppo.PlaceEOS, srppo.PlaceToken, srppo.PlaceOracle}, T2N: 16,
		T2Extra: true, T4: true, T5: true, Iterations: 2, T2At: []int{0, 1}, RolloutPrompt: 4, EvalPerSplit: 6,
		T3Items: 3, T3K: 2, SFTEpochs: 2, PretrainEpoch: 1, SFTMinSteps: 4},
	"quick": {Ns: []int{64}, Seeds: 1, T1Modes: []string{srppo.PlaceEOS, srppo.PlaceToken, srppo.PlaceOracle}, T2N: 64,
		Iterations: 25, T2At: []int{0, 12, 24}, RolloutPrompt: 64, EvalPerSplit: 100, T3Items: 40, T3K: 8, SFTEpochs: 20, SFTMinSteps: 300, PretrainEpoch: 1},
	// length is T2 over a longer horizon: SRPPO-eos, token and the zero-reward control at N = 64
	// for 100 iterations, 3 seeds (criterion (b)); about 40 min on 2 cores with a simd build.
	"length": {Ns: []int{64}, Seeds: 3, T1Modes: []string{srppo.PlaceEOS, srppo.PlaceToken, srppo.PlaceZero}, T2N: 64,
		Iterations: 100, T2At: []int{0, 25, 50, 99}, RolloutPrompt: 64, EvalPerSplit: 200,
		T3Items: 100, T3K: 8, SFTEpochs: 20, SFTMinSteps: 300, PretrainEpoch: 3},
	"grid": {Ns: []int{16, 64, 1024}, Seeds: 3, T1Modes: []string{srppo.PlaceEOS, srppo.PlaceToken, srppo.PlaceOracle}, T2N: 64,
		T2Extra: true, T4: true, T5: true, Iterations: 20, T2At: []int{0, 10, 19}, RolloutPrompt: 64, EvalPerSplit: 200,
		T3Items: 100, T3K: 8, SFTEpochs: 20, SFTMinSteps: 300, PretrainEpoch: 3},
}

func runReproduce(args []string) error {
	fs := newFlagSet("reproduce", "-out DIR [-data DIR] [-budget quick|grid] [-seeds S] [-preset lean|full]", reproduceDescription)
	out := fs.String("out", "runs/reproduce", "output `directory` (stages are cached here)")
	data := fs.String("data", "", "data `directory` in the JSONL format (default: generate the built-in world of -preset)")
	budgetName := fs.String("budget", "quick", "quick, grid, length (T2 for 100 iterations), or smoke (a seconds-long test of every stage)")
	seeds := fs.Int("seeds", 0, "number of seeds `S` (0: the budget's)")
	preset := fs.String("preset", "lean", "built-in world preset when -data is not given")
	iters := fs.Int("iterations", 0, "PPO iterations per run (0: the budget's)")
	publish := fs.String("publish", "", "also write RESULTS.md and its figures (under results/) into this `directory`, e.g. the repository root")
	mf := addModelFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	b, ok := budgets[*budgetName]
	if !ok {
		return fmt.Errorf("unknown budget %q (want quick, grid, length or smoke)", *budgetName)
	}
	if *seeds > 0 {
		b.Seeds = *seeds
	}
	if *iters > 0 {
		b.Iterations = *iters
		b.T2At = []int{0, *iters / 2, *iters - 1}
	}
	rp := &reproduction{out: *out, b: b, started: time.Now(), log: os.Stdout, modelFlags: mf, results: map[int][]seedResult{}, publish: *publish, budgetName: *budgetName}
	return rp.run(*data, *preset, args)
}

// reproduction holds the state of one `srppo reproduce` run.
type reproduction struct {
	out     string
	b       budget
	started time.Time
	log     io.Writer

	data     string
	tok      *datasets.Tokenizer
	pt       *srppo.LM
	eval     []datasets.EvalItem
	splits   []string
	pool     []srppo.PromptSource
	tables   tables
	baseNote string
	results  map[int][]seedResult // by N, one per seed

	previousTotal  float64      // wall seconds of earlier invocations on the same OUT
	invocations    []invocation // every invocation on OUT, this one last
	publish        string       // directory that receives RESULTS.md and its figures (-publish)
	budgetName     string
	notedNoAnswers bool

	modelFlags modelFlags // the model shape when pretraining a -data directory
}

// tables is what OUT/tables.json holds.
type tables struct {
	Budget  budget             `json:"budget"`
	Command string             `json:"command"`
	T0      *srppo.T0          `json:"t0,omitempty"`
	T1      []tableRow         `json:"t1"`
	T2      []tableRow         `json:"t2"`
	T3      []tableRow         `json:"t3"`
	T4      []tableRow         `json:"t4,omitempty"`
	T5      []tableRow         `json:"t5,omitempty"`
	Seconds map[string]float64 `json:"seconds"`

	// What RESULTS.md says beside the tables, recorded so that it can be re-rendered from
	// tables.json alone (the golden test does).
	Build       string       `json:"build,omitempty"` // the build that rendered it (buildStamp)
	BaseNote    string       `json:"base_note,omitempty"`
	Splits      []string     `json:"splits,omitempty"`
	Model       modelShape   `json:"model"`
	Samples     int          `json:"samples"` // PPO samples per prompt
	Invocations []invocation `json:"invocations,omitempty"`
	Figures     []string     `json:"figures,omitempty"` // relative to the figures folder
	LengthFits  []lengthFit  `json:"length_fits,omitempty"`
	// Note says how the record was made when not by a run (the published records of runs made
	// before tables.json recorded all of the above were rebuilt from their RESULTS.md).
	Note string `json:"note,omitempty"`
}

// modelShape is the size of π_pt that RESULTS.md names.
type modelShape struct {
	Layers int `json:"layers"`
	DModel int `json:"d_model"`
}

// lengthFit is the least-squares line of coherent reward against response length in the last
// rollout of one placement's seed-1 run.
type lengthFit struct {
	Mode  string  `json:"mode"`
	Slope float64 `json:"slope"`
	Corr  float64 `json:"corr"`
}

// tableRow is one row of a results table: a name and named cells, each a mean ± sd over seeds.
type tableRow struct {
	Name  string          `json:"name"`
	Cells map[string]cell `json:"cells"`
	Order []string        `json:"order"`
}

// cell is a mean ± sd over seeds; NaN values (undefined, e.g. no pairs to compare) are skipped and
// a cell with none is NaN (null in JSON, "–" in Markdown).
type cell struct {
	Mean srppo.Float   `json:"mean"`
	SD   srppo.Float   `json:"sd"`
	N    int           `json:"n"`
	All  []srppo.Float `json:"values"`
}

func newCell(values []float64) cell {
	var c cell
	var mean, ss float64
	for _, v := range values {
		c.All = append(c.All, srppo.Float(v))
		if !math.IsNaN(v) {
			mean += v
			c.N++
		}
	}
	if c.N == 0 {
		c.Mean, c.SD = srppo.Float(math.NaN()), srppo.Float(math.NaN())
		return c
	}
	mean /= float64(c.N)
	for _, v := range values {
		if !math.IsNaN(v) {
			ss += (v - mean) * (v - mean)
		}
	}
	c.Mean = srppo.Float(mean)
	if c.N > 1 {
		c.SD = srppo.Float(math.Sqrt(ss / float64(c.N-1)))
	}
	return c
}

func (rp *reproduction) logf(format string, args ...any) {
	fmt.Fprintf(rp.log, "[%s] "+format+"\n", append([]any{time.Since(rp.started).Round(time.Second)}, args...)...)
}

func (rp *reproduction) run(data, preset string, args []string) error {
	rp.tables.Budget = rp.b
	rp.tables.Command = "srppo reproduce " + strings.Join(args, " ")
	rp.tables.Seconds = map[string]float64{}
	rp.tables.Build = buildStamp()
	rp.tables.Samples = rp.ppoConfig(srppo.PlaceEOS).Samples
	if err := os.MkdirAll(rp.out, 0o755); err != nil {
		return err
	}
	rp.loadSeconds()
	if err := rp.recordInvocation(); err != nil {
		return err
	}
	if err := rp.prepareData(data, preset); err != nil {
		return err
	}
	rp.tables.BaseNote, rp.tables.Splits = rp.baseNote, rp.splits
	rp.tables.Model = modelShape{Layers: rp.pt.Config.Layers, DModel: rp.pt.Config.DModel}
	if err := rp.t0(); err != nil {
		return err
	}
	for _, n := range rp.b.Ns {
		if err := rp.forN(n); err != nil {
			return err
		}
	}
	rp.tables.Seconds["total"] = rp.previousTotal + time.Since(rp.started).Seconds()
	if err := srppo.WriteJSON(filepath.Join(rp.out, "tables.json"), rp.tables); err != nil {
		return err
	}
	md := renderTables(&rp.tables)
	if err := datasets.WriteFileAtomic(filepath.Join(rp.out, "tables.md"), []byte(md)); err != nil {
		return err
	}
	fmt.Fprint(rp.log, "\n"+md)
	figures, err := rp.figures(filepath.Join(rp.out, figuresDir))
	if err != nil {
		return err
	}
	rp.tables.Figures = nil
	for _, f := range figures {
		rp.tables.Figures = append(rp.tables.Figures, figureRel(f))
	}
	rp.tables.LengthFits = rp.lengthFits()
	if err := srppo.WriteJSON(filepath.Join(rp.out, "tables.json"), rp.tables); err != nil {
		return err
	}
	if err := rp.writeResults(rp.out); err != nil {
		return err
	}
	if rp.publish != "" {
		if err := rp.publishResults(figures); err != nil {
			return err
		}
	}
	rp.logf("done; tables in %s, %s and %d figures in %s", filepath.Join(rp.out, "tables.md"), filepath.Join(rp.out, resultsFile), len(figures), filepath.Join(rp.out, figuresDir))
	return nil
}

// loadSeconds keeps the stage times and total wall time of earlier invocations on OUT, so the
// times reported after a resumed or cached run are those of the work actually done.
func (rp *reproduction) loadSeconds() {
	var prev tables
	if data, err := os.ReadFile(filepath.Join(rp.out, "tables.json")); err == nil && json.Unmarshal(data, &prev) == nil {
		for k, v := range prev.Seconds {
			if k == "total" {
				rp.previousTotal = v
				continue
			}
			rp.tables.Seconds[k] = v
		}
	}
	var stages map[string]float64
	if data, err := os.ReadFile(filepath.Join(rp.out, "stages", secondsFile)); err == nil && json.Unmarshal(data, &stages) == nil {
		for k, v := range stages {
			rp.tables.Seconds[k] = v
		}
	}
}

// prepareData sets up the data directory, tokenizer, eval set, prompt pool and base model.
func (rp *reproduction) prepareData(data, preset string) error {
	if data == "" {
		w, err := datasets.Preset(preset)
		if err != nil {
			return err
		}
		data = filepath.Join(rp.out, "data")
		if _, err := os.Stat(filepath.Join(data, datasets.WorldFile)); err != nil {
			wd, err := w.Generate(1)
			if err != nil {
				return err
			}
			if err := wd.WriteDir(data); err != nil {
				return err
			}
			rp.logf("generated the %s world (seed 1) in %s", preset, data)
		}
	}
	rp.data = data
	var err error
	if rp.tok, err = srppo.DataTokenizer(data); err != nil {
		return err
	}
	if rp.eval, err = datasets.LoadEval(filepath.Join(data, datasets.EvalFile)); err != nil {
		return err
	}
	rp.eval = srppo.EvalSlice(rp.eval, rp.b.EvalPerSplit)
	for _, it := range rp.eval {
		if !slices.Contains(rp.splits, it.Split) {
			rp.splits = append(rp.splits, it.Split)
		}
	}
	if rp.pool, err = loadPromptPool(filepath.Join(data, datasets.PromptsFile), ""); err != nil {
		return err
	}
	// The shipped base model serves the built-in world it was trained on; any other data is
	// pretrained from its own corpus (resumable, cached under OUT/pt).
	if base, err := srppo.BaseModel(preset); err == nil && base.Tokenizer.Equal(rp.tok) && data == filepath.Join(rp.out, "data") {
		rp.pt, rp.baseNote = base, "shipped base model srppo/base/"+preset
		return nil
	}
	ptDir := filepath.Join(rp.out, "pt")
	if m, err := srppo.LoadModel(filepath.Join(ptDir, srppo.ModelSubdir), nil, rp.tok); err == nil {
		rp.pt, rp.baseNote = m, "pretrained from corpus.jsonl (cached in "+ptDir+")"
		return nil
	}
	rp.logf("pretraining π_pt on %s (%d epochs)", filepath.Join(data, datasets.CorpusFile), rp.b.PretrainEpoch)
	docs, err := datasets.LoadCorpus(filepath.Join(data, datasets.CorpusFile))
	if err != nil {
		return err
	}
	seqs, err := srppo.EncodeCorpus(rp.tok, docs)
	if err != nil {
		return err
	}
	nHeld := len(seqs) / 100
	cfg := srppo.DefaultPretrainConfig()
	cfg.Epochs, cfg.CheckpointDir = rp.b.PretrainEpoch, filepath.Join(ptDir, "train")
	m, err := srppo.NewLM(rp.modelFlags.config(rp.tok.VocabSize()), cfg.Seed)
	if err != nil {
		return err
	}
	m.Tokenizer = rp.tok
	if _, err := srppo.Train(m, seqs[:len(seqs)-nHeld], seqs[len(seqs)-nHeld:], cfg, nil); err != nil {
		return err
	}
	if err := srppo.SaveModel(filepath.Join(ptDir, srppo.ModelSubdir), m); err != nil {
		return err
	}
	rp.pt, rp.baseNote = m, "pretrained from corpus.jsonl"
	return nil
}

// cached runs fn unless OUT/key.json exists, in which case it loads the stored result into v.
func (rp *reproduction) cached(key string, v any, fn func() error) error {
	path := filepath.Join(rp.out, "stages", key+".json")
	if data, err := os.ReadFile(path); err == nil {
		return json.Unmarshal(data, v)
	}
	start := time.Now()
	if err := fn(); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	rp.tables.Seconds[key] = time.Since(start).Seconds()
	if err := srppo.WriteJSON(path, v); err != nil {
		return err
	}
	return srppo.WriteJSON(filepath.Join(rp.out, "stages", secondsFile), rp.tables.Seconds)
}

// secondsFile (under OUT/stages) holds the wall seconds of every finished stage.
const secondsFile = "seconds.json"

func (rp *reproduction) t0() error {
	var t0 srppo.T0
	err := rp.cached("t0", &t0, func() error {
		rp.logf("T0: probing the base model (%s)", rp.baseNote)
		res, err := srppo.ProbeBase(rp.pt, rp.eval, 64)
		if err != nil {
			return err
		}
		t0 = *res
		return nil
	})
	if err != nil {
		return err
	}
	rp.tables.T0 = &t0
	printReport(t0.Chat)
	if t0.Doc != nil {
		printReport(t0.Doc)
		rp.logf("T0: document-format EM at in-range lengths, mean over operations %.3f", t0.DocInRangeEM)
	}
	return nil
}

// evalResult is one greedy evaluation, per split.
type evalResult struct {
	EM, EOS, Len map[string]float64
	All          srppo.GroupStats
}

func (rp *reproduction) evaluate(key string, m func() (*srppo.LM, error)) (evalResult, error) {
	var res evalResult
	err := rp.cached(key, &res, func() error {
		model, err := m()
		if err != nil {
			return err
		}
		rep, err := srppo.Evaluate(model, rp.eval, srppo.EvalConfig{Format: srppo.FormatChat, MaxNew: 24, BatchRows: 64})
		if err != nil {
			return err
		}
		res = evalResult{EM: map[string]float64{}, EOS: map[string]float64{}, Len: map[string]float64{}, All: rep.Overall}
		for _, g := range rep.BySplit {
			res.EM[g.Group], res.EOS[g.Group], res.Len[g.Group] = g.EM, g.EOSRate, g.MeanLen
		}
		return nil
	})
	return res, err
}

// sft trains (or loads) π_sft for N demos and a seed; it returns the run directory.
func (rp *reproduction) sft(n, seed int) (string, error) {
	dir := filepath.Join(rp.out, "sft", fmt.Sprintf("N%d-s%d", n, seed))
	var done struct{ BestEpoch int }
	err := rp.cached(fmt.Sprintf("sft-N%d-s%d", n, seed), &done, func() error {
		rp.logf("SFT N=%d seed %d", n, seed)
		train, held, err := srppo.LoadSFTData(rp.data, rp.tok, n)
		if err != nil {
			return err
		}
		m, err := rp.pt.Clone()
		if err != nil {
			return err
		}
		cfg := srppo.DefaultSFTConfig()
		cfg.Seed, cfg.Epochs, cfg.MinSteps = uint64(seed), rp.b.SFTEpochs, rp.b.SFTMinSteps
		res, err := srppo.Train(m, train, held, cfg, nil)
		if err != nil {
			return err
		}
		done.BestEpoch = res.BestEpoch
		return srppo.SaveSFT(dir, m, res)
	})
	return dir, err
}

// ppoRun runs (or resumes) PPO for a mode variant and returns the metrics and the final policy.
func (rp *reproduction) ppoRun(name string, sftDir string, seed int, cfg srppo.PPOConfig, pool []srppo.PromptSource) ([]srppo.Metrics, string, error) {
	dir := filepath.Join(rp.out, "ppo", name)
	var done struct{ Iterations int }
	err := rp.cached("ppo-"+name, &done, func() error {
		sft, err := srppo.LoadModel(sftDir, &rp.pt.Config, rp.tok)
		if err != nil {
			return err
		}
		run, err := srppo.NewPPORun(dir, cfg, uint64(seed), sft, rp.pt, pool)
		if err != nil {
			return err
		}
		for run.Iteration < rp.b.Iterations {
			m, _, err := run.Iterate()
			if err != nil {
				return err
			}
			for _, s := range m.Sanity {
				rp.logf("SANITY FAILURE %s iteration %d: %s", name, m.Iteration, s)
			}
			if m.Iteration%5 == 0 || run.Iteration == rp.b.Iterations {
				rp.logf("PPO %s it %d: reward %.2f KL %.3f len %.1f EOS %.0f%% trunc %.0f%% (%.1fs)", name, m.Iteration, m.Reward, m.KL, m.Length, m.EOSPct, m.TruncPct, m.Seconds)
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
	if done.Iterations != rp.b.Iterations {
		return nil, "", fmt.Errorf("%s holds a PPO run of %d iterations, this budget wants %d: use a fresh -out (or the -iterations it was run with)", dir, done.Iterations, rp.b.Iterations)
	}
	ms, err := srppo.ReadMetrics(dir)
	return ms, dir, err
}

// seedResult is what one seed at one N produced: evaluations by method, PPO metrics and run
// directories by variant, and the T3 diagnostics per split.
type seedResult struct {
	evals   map[string]evalResult
	metrics map[string][]srppo.Metrics
	dirs    map[string]string
	t3      []srppo.RewardDiagnostics
}

// forN runs everything for one demonstration count.
func (rp *reproduction) forN(n int) error {
	var results []seedResult
	for seed := 1; seed <= rp.b.Seeds; seed++ {
		sr := seedResult{evals: map[string]evalResult{}, metrics: map[string][]srppo.Metrics{}}
		sftDir, err := rp.sft(n, seed)
		if err != nil {
			return err
		}
		load := func(dir string) func() (*srppo.LM, error) {
			return func() (*srppo.LM, error) { return srppo.LoadModel(dir, nil, rp.tok) }
		}
		if sr.evals["PT zero-shot"], err = rp.evaluate("eval-pt", func() (*srppo.LM, error) { return rp.pt, nil }); err != nil {
			return err
		}
		if sr.evals["SFT"], err = rp.evaluate(fmt.Sprintf("eval-sft-N%d-s%d", n, seed), load(sftDir)); err != nil {
			return err
		}
		if sr.evals["SFT-long"], err = rp.evaluate(fmt.Sprintf("eval-sftlong-N%d-s%d", n, seed), load(filepath.Join(sftDir, srppo.SFTLongSubdir))); err != nil {
			return err
		}
		if err := rp.cached(fmt.Sprintf("t3-N%d-s%d", n, seed), &sr.t3, func() error {
			rp.logf("T3 diagnostics N=%d seed %d", n, seed)
			sft, err := srppo.LoadModel(sftDir, nil, rp.tok)
			if err != nil {
				return err
			}
			sr.t3, err = srppo.DiagnoseReward(sft, rp.pt, srppo.EvalSlice(rp.eval, rp.b.T3Items), rp.b.T3K, 24, 64, uint64(seed))
			return err
		}); err != nil {
			return err
		}
		variants := map[string]srppo.PPOConfig{}
		for _, mode := range rp.b.T1Modes {
			if mode == srppo.PlaceOracle && !rp.poolHasAnswers() {
				continue
			}
			variants[mode] = rp.ppoConfig(mode)
		}
		if n == rp.b.T2N && rp.b.T2Extra {
			variants[srppo.PlaceEOSMean] = rp.ppoConfig(srppo.PlaceEOSMean)
			l1 := rp.ppoConfig(srppo.PlaceToken)
			l1.Lambda = 1
			variants["token λ=1"] = l1
			wr := rp.ppoConfig(srppo.PlaceToken)
			wr.WhitenRewards = true
			variants["token whitened"] = wr
		}
		if n == rp.b.T2N && rp.b.T5 {
			variants[srppo.PlaceLogpSFT] = rp.ppoConfig(srppo.PlaceLogpSFT)
			variants[srppo.PlaceZero] = rp.ppoConfig(srppo.PlaceZero)
		}
		dirs := map[string]string{}
		for _, name := range sortedKeys(variants) {
			runName := fmt.Sprintf("%s-N%d-s%d", strings.ReplaceAll(strings.ReplaceAll(name, " ", "_"), "λ", "lambda"), n, seed)
			ms, dir, err := rp.ppoRun(runName, sftDir, seed, variants[name], rp.pool)
			if err != nil {
				return err
			}
			sr.metrics[name], dirs[name] = ms, dir
			if sr.evals[name], err = rp.evaluate("eval-ppo-"+runName, load(dir)); err != nil {
				return err
			}
		}
		if n == rp.b.T2N && rp.b.T4 {
			if err := rp.t4(n, seed, sftDir, &sr.evals); err != nil {
				return err
			}
		}
		sr.dirs = dirs
		results = append(results, sr)
	}
	rp.results[n] = results
	// T1: one row per method, columns split EM + EOS % + length.
	methods := []string{"PT zero-shot", "SFT", "SFT-long"}
	for _, mode := range rp.b.T1Modes {
		methods = append(methods, mode)
	}
	label := map[string]string{srppo.PlaceEOS: "SRPPO-eos", srppo.PlaceToken: "SRPPO-token", srppo.PlaceOracle: "oracle-PPO"}
	for _, meth := range methods {
		row := tableRow{Name: fmt.Sprintf("N=%d %s", n, orDefault(label[meth], meth)), Cells: map[string]cell{}}
		// A method that did not run (oracle-PPO without gold answers) gets undefined cells.
		get := func(f func(evalResult) float64) func(seedResult) float64 {
			return func(r seedResult) float64 {
				if e, ok := r.evals[meth]; ok {
					return f(e)
				}
				return math.NaN()
			}
		}
		for _, split := range rp.splits {
			row.add(split+" EM", collect(results, get(func(e evalResult) float64 { return e.EM[split] })))
		}
		row.add("EOS %", collect(results, get(func(e evalResult) float64 { return 100 * e.All.EOSRate })))
		row.add("length", collect(results, get(func(e evalResult) float64 { return e.All.MeanLen })))
		rp.tables.T1 = append(rp.tables.T1, row)
	}
	// T2: length dynamics for every PPO variant run at this N.
	if n == rp.b.T2N {
		for _, name := range sortedKeys(results[0].metrics) {
			row := tableRow{Name: name, Cells: map[string]cell{}}
			for _, at := range rp.b.T2At {
				i := min(at, len(results[0].metrics[name])-1)
				row.add(fmt.Sprintf("len@%d", at), collect(results, func(r seedResult) float64 { return r.metrics[name][i].Length }))
				row.add(fmt.Sprintf("trunc%%@%d", at), collect(results, func(r seedResult) float64 { return r.metrics[name][i].TruncPct }))
				row.add(fmt.Sprintf("EOS%%@%d", at), collect(results, func(r seedResult) float64 { return r.metrics[name][i].EOSPct }))
			}
			last := func(r seedResult) srppo.Metrics { ms := r.metrics[name]; return ms[len(ms)-1] }
			row.add("KL", collect(results, func(r seedResult) float64 { return last(r).KL }))
			row.add("reward", collect(results, func(r seedResult) float64 { return last(r).Reward }))
			for _, split := range rp.splits {
				row.add(split+" EM", collect(results, func(r seedResult) float64 { return r.evals[name].EM[split] }))
			}
			if slices.Contains([]string{srppo.PlaceLogpSFT, srppo.PlaceZero, srppo.PlaceOracle, srppo.PlaceEOS}, name) && rp.b.T5 {
				rp.tables.T5 = append(rp.tables.T5, row)
			}
			rp.tables.T2 = append(rp.tables.T2, row)
		}
	}
	// T3 per split.
	for i, d := range results[0].t3 {
		row := tableRow{Name: fmt.Sprintf("N=%d %s", n, d.Split), Cells: map[string]cell{}}
		get := func(f func(srppo.RewardDiagnostics) float64) []float64 {
			return collect(results, func(r seedResult) float64 { return f(r.t3[i]) })
		}
		row.add("pass@1", get(func(x srppo.RewardDiagnostics) float64 { return x.Pass1 }))
		row.add(fmt.Sprintf("pass@%d", d.K), get(func(x srppo.RewardDiagnostics) float64 { return x.PassK }))
		row.add(fmt.Sprintf("best-of-%d by r", d.K), get(func(x srppo.RewardDiagnostics) float64 { return x.BestOfK }))
		row.add("pairwise acc", get(func(x srppo.RewardDiagnostics) float64 { return float64(x.PairwiseAcc) }))
		row.add("Δ content", get(func(x srppo.RewardDiagnostics) float64 { return float64(x.DeltaContent) }))
		row.add("Δ EOS", get(func(x srppo.RewardDiagnostics) float64 { return float64(x.DeltaEOS) }))
		rp.tables.T3 = append(rp.tables.T3, row)
	}
	if n == rp.b.T2N && rp.b.T4 {
		for _, pool := range []string{"pool: SFT prompts", "pool: new id", "pool: id+ood"} {
			row := tableRow{Name: pool, Cells: map[string]cell{}}
			for _, split := range rp.splits {
				row.add(split+" EM", collect(results, func(r seedResult) float64 { return r.evals[pool].EM[split] }))
			}
			rp.tables.T4 = append(rp.tables.T4, row)
		}
	}
	fmt.Fprint(rp.log, "\n"+renderTables(&rp.tables))
	return nil
}

// poolHasAnswers reports whether every PPO prompt has a gold answer, which the oracle placement
// needs (the built-in world's prompts do; prompts.jsonl may give them in "answer"). Without them
// oracle-PPO is skipped, once noted, and its cells are undefined.
func (rp *reproduction) poolHasAnswers() bool {
	for _, p := range rp.pool {
		if p.Answer == "" {
			if !rp.notedNoAnswers {
				rp.logf("oracle-PPO skipped: prompt %q in %s has no gold answer (give \"answer\" in prompts.jsonl to run it)", p.Prompt, datasets.PromptsFile)
				rp.notedNoAnswers = true
			}
			return false
		}
	}
	return len(rp.pool) > 0
}

// t4 runs SRPPO-eos with three prompt pools: the SFT demos' prompts, new in-domain prompts, and
// the whole pool (in- and out-of-domain).
func (rp *reproduction) t4(n, seed int, sftDir string, evals *map[string]evalResult) error {
	demos, err := datasets.LoadDemos(filepath.Join(rp.data, datasets.DemosFile(n)))
	if err != nil {
		return err
	}
	var sftPool, idPool []srppo.PromptSource
	for _, d := range demos {
		sftPool = append(sftPool, srppo.PromptSource{Prompt: d.Prompt})
	}
	for _, p := range rp.pool {
		if p.Split == rp.splits[0] {
			idPool = append(idPool, p)
		}
	}
	for name, pool := range map[string][]srppo.PromptSource{"pool: SFT prompts": sftPool, "pool: new id": idPool, "pool: id+ood": rp.pool} {
		if len(pool) == 0 {
			continue
		}
		runName := fmt.Sprintf("t4-%s-N%d-s%d", strings.NewReplacer(" ", "_", ":", "", "+", "_").Replace(name), n, seed)
		_, dir, err := rp.ppoRun(runName, sftDir, seed, rp.ppoConfig(srppo.PlaceEOS), pool)
		if err != nil {
			return err
		}
		if (*evals)[name], err = rp.evaluate("eval-ppo-"+runName, func() (*srppo.LM, error) { return srppo.LoadModel(dir, nil, rp.tok) }); err != nil {
			return err
		}
	}
	return nil
}

func (rp *reproduction) ppoConfig(mode string) srppo.PPOConfig {
	c := srppo.DefaultPPOConfig(mode)
	c.Prompts = rp.b.RolloutPrompt
	return c
}

func collect[R any](results []R, f func(R) float64) []float64 {
	out := make([]float64, len(results))
	for i, r := range results {
		out[i] = f(r)
	}
	return out
}

func (r *tableRow) add(col string, values []float64) {
	r.Cells[col] = newCell(values)
	r.Order = append(r.Order, col)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// renderTables renders every table filled so far.
func renderTables(tb *tables) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# SRPPO reproduction (%s)\n\nCommand: `%s`. Base model: %s. Cells are mean ± sd over %d seed(s).\n\n", tb.Command, tb.Command, tb.BaseNote, tb.Budget.Seeds)
	if t0 := tb.T0; t0 != nil {
		b.WriteString("## T0 — base-model probe\n\n| split | chat EM | doc EM |\n|---|---|---|\n")
		for _, g := range t0.Chat.BySplit {
			doc := "–"
			if t0.Doc != nil {
				if d, ok := srppo.Group(t0.Doc.BySplit, g.Group); ok {
					doc = fmt.Sprintf("%.3f", d.EM)
				}
			}
			fmt.Fprintf(&b, "| %s | %.3f | %s |\n", g.Group, g.EM, doc)
		}
		if t0.Doc != nil {
			fmt.Fprintf(&b, "\nDocument-format EM at in-range lengths %v, mean over operations: **%.3f**\n\n", t0.InRangeLens, t0.DocInRangeEM)
		}
	}
	for _, t := range []struct {
		title string
		rows  []tableRow
	}{{"T1 — main results", tb.T1}, {"T2 — length dynamics", tb.T2}, {"T3 — reward diagnostics before PPO", tb.T3},
		{"T4 — prompt overlap (SRPPO-eos)", tb.T4}, {"T5 — reward ablation", tb.T5}} {
		if len(t.rows) == 0 {
			continue
		}
		fmt.Fprintf(&b, "## %s\n\n| |", t.title)
		cols := t.rows[0].Order
		for _, c := range cols {
			fmt.Fprintf(&b, " %s |", c)
		}
		b.WriteString("\n|---|" + strings.Repeat("---|", len(cols)) + "\n")
		for _, r := range t.rows {
			fmt.Fprintf(&b, "| %s |", r.Name)
			for _, c := range cols {
				v := r.Cells[c]
				switch {
				case math.IsNaN(float64(v.Mean)):
					b.WriteString(" – |")
				case v.N > 1:
					fmt.Fprintf(&b, " %.3f ± %.3f |", v.Mean, v.SD)
				default:
					fmt.Fprintf(&b, " %.3f |", v.Mean)
				}
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}
