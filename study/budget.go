package study

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gosrppo/gosrppo/srppo"
)

// Budget sizes a study. Every way two budgets differ is a field here, so that nothing about a
// run's size hides in a default: the command line's smoke/quick/length/grid and the notebooks'
// small/full are rows of one table (Budgets).
type Budget struct {
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
	PretrainEpoch int      `json:"pretrain_epochs"` // for a data directory without a shipped base

	// EvalMaxNew is the greedy generation budget of every evaluation (T0 chat, T1, T2, T4) and
	// of the T3 samples, in tokens.
	EvalMaxNew int `json:"eval_max_new,omitempty"`
	// OracleNeedsAnswers says what happens to oracle-PPO when a PPO prompt has no gold answer:
	// "skip" (undefined cells, stated in RESULTS.md) or "fail" (an error before any work).
	OracleNeedsAnswers string `json:"oracle_without_answers,omitempty"`
	// PPOActorLR replaces the design's actor learning rate when > 0 (short notebook runs use a
	// larger one so that a few iterations move the policy).
	PPOActorLR float64 `json:"ppo_actor_lr,omitempty"`
	// Sweep, when set, makes the budget the mechanism sweep (sweep.go): its stages replace the
	// grid of Ns × T1Modes, and Iterations is its gain-run length.
	Sweep *SweepSpec `json:"sweep,omitempty"`
}

// Budgets are the named budgets of `srppo reproduce -budget` and of the notebooks.
var Budgets = map[string]Budget{
	// smoke exercises every stage in seconds on a tiny world and model (the CI test).
	"smoke": {Ns: []int{16}, Seeds: 2, T1Modes: []string{srppo.PlaceEOS, srppo.PlaceToken, srppo.PlaceOracle}, T2N: 16,
		T2Extra: true, T4: true, T5: true, Iterations: 2, T2At: []int{0, 1}, RolloutPrompt: 4, EvalPerSplit: 6,
		T3Items: 3, T3K: 2, SFTEpochs: 2, PretrainEpoch: 1, SFTMinSteps: 4, EvalMaxNew: 24, OracleNeedsAnswers: "skip"},
	"quick": {Ns: []int{64}, Seeds: 1, T1Modes: []string{srppo.PlaceEOS, srppo.PlaceToken, srppo.PlaceOracle}, T2N: 64,
		Iterations: 25, T2At: []int{0, 12, 24}, RolloutPrompt: 64, EvalPerSplit: 100, T3Items: 40, T3K: 8, SFTEpochs: 20, SFTMinSteps: 300, PretrainEpoch: 1,
		EvalMaxNew: 24, OracleNeedsAnswers: "skip"},
	// length is T2 over a longer horizon: SRPPO-eos, token and the zero-reward control at N = 64
	// for 100 iterations, 3 seeds (criterion (b)); about 55 min on 2 cores with a simd build.
	"length": {Ns: []int{64}, Seeds: 3, T1Modes: []string{srppo.PlaceEOS, srppo.PlaceToken, srppo.PlaceZero}, T2N: 64,
		Iterations: 100, T2At: []int{0, 25, 50, 99}, RolloutPrompt: 64, EvalPerSplit: 200,
		T3Items: 100, T3K: 8, SFTEpochs: 20, SFTMinSteps: 300, PretrainEpoch: 3, EvalMaxNew: 24, OracleNeedsAnswers: "skip"},
	"grid": {Ns: []int{16, 64, 1024}, Seeds: 3, T1Modes: []string{srppo.PlaceEOS, srppo.PlaceToken, srppo.PlaceOracle}, T2N: 64,
		T2Extra: true, T4: true, T5: true, Iterations: 20, T2At: []int{0, 10, 19}, RolloutPrompt: 64, EvalPerSplit: 200,
		T3Items: 100, T3K: 8, SFTEpochs: 20, SFTMinSteps: 300, PretrainEpoch: 3, EvalMaxNew: 24, OracleNeedsAnswers: "skip"},
	// small is what notebook 05 executes in CI: the shipped base model, N = 64, one seed, a few
	// PPO iterations of 16 prompts with the notebooks' larger actor learning rate.
	"small": {Ns: []int{64}, Seeds: 1, T1Modes: []string{srppo.PlaceEOS, srppo.PlaceToken, srppo.PlaceOracle}, T2N: 64,
		Iterations: 4, T2At: []int{0, 3}, RolloutPrompt: 16, EvalPerSplit: 40, T3Items: 10, T3K: 4, SFTEpochs: 20, SFTMinSteps: 150,
		PretrainEpoch: 1, EvalMaxNew: 24, OracleNeedsAnswers: "skip", PPOActorLR: 1e-4},
	// full is notebook 05 at the design's sizes: the grid budget (the published RESULTS.md).
	"full": {Ns: []int{16, 64, 1024}, Seeds: 3, T1Modes: []string{srppo.PlaceEOS, srppo.PlaceToken, srppo.PlaceOracle}, T2N: 64,
		T2Extra: true, T4: true, T5: true, Iterations: 20, T2At: []int{0, 10, 19}, RolloutPrompt: 64, EvalPerSplit: 200,
		T3Items: 100, T3K: 8, SFTEpochs: 20, SFTMinSteps: 300, PretrainEpoch: 3, EvalMaxNew: 24, OracleNeedsAnswers: "skip"},
	// sweep is the mechanism sweep of design §6b (RESULTS_sweep.md): N = 64, 3 seeds, one
	// factor at a time around β = 0.05, raw Δ, SFT by held-out loss and the shipped base (the
	// SFT-selection axis at N = 16, where the choice matters), a β × chat-exposure grid,
	// 20-iteration gain runs (the grid's) and 100-iteration eos/token length runs; about 2.5 h
	// on 2 quiet cores with the simd build (PPO ≈ 2 s per iteration at N = 64, ≈ 3.5 s once the
	// length runs have grown to 10+ tokens; SFT ≈ 1 min; measured in the grid).
	"sweep": {Ns: []int{64}, Seeds: 3, T2N: 64, Iterations: 20, T2At: []int{0, 19}, RolloutPrompt: 64, EvalPerSplit: 200,
		T3Items: 100, T3K: 8, SFTEpochs: 20, SFTMinSteps: 300, PretrainEpoch: 3, EvalMaxNew: 24, OracleNeedsAnswers: "skip",
		Sweep: &SweepSpec{N: 64, SelectionN: 16, Betas: []float64{0.05, 0.2, 1}, Shapings: []string{ShapeRaw, ShapeClip, ShapeEOSMean, ShapeBaseline}, Clip: 1,
			Selections: []string{SelectLoss, SelectEM, SelectLast}, Exposures: sweepExposures, Grid: true,
			GainIterations: 20, LengthIterations: 100, LengthShapings: []string{ShapeRaw, ShapeBaseline},
			ValPerSplit: 200, SelectItems: 128, BaselinePrompts: 64, ContinueLR: 1e-3}},
	// sweep-small is what notebook 06 executes in CI: every stage kind of the sweep at toy sizes
	// (one seed, two levels per axis, a few iterations), in a few minutes.
	"sweep-small": {Ns: []int{64}, Seeds: 1, T2N: 64, Iterations: 3, T2At: []int{0, 2}, RolloutPrompt: 16, EvalPerSplit: 40,
		T3Items: 10, T3K: 4, SFTEpochs: 20, SFTMinSteps: 100, PretrainEpoch: 1, EvalMaxNew: 24, OracleNeedsAnswers: "skip", PPOActorLR: 1e-4,
		Sweep: &SweepSpec{N: 64, Betas: []float64{0.05, 1}, Shapings: []string{ShapeRaw, ShapeBaseline}, Clip: 1,
			Selections: []string{SelectLoss, SelectEM}, Exposures: []Exposure{{}, {Docs: 960, Fraction: 0.5}}, Grid: true,
			GainIterations: 3, LengthIterations: 4, LengthShapings: []string{ShapeRaw},
			ValPerSplit: 40, SelectItems: 32, BaselinePrompts: 16, ContinueLR: 1e-3}},
}

// sweepExposures are the sweep's π_pt variants: the shipped base; the base continued-pretrained
// (lr 1e-3) on corpus documents half of which are chat-format Q&A with correct answers, for about
// 50, 100 and 160 steps — calibrated on the validation split to a zero-shot chat EM of about
// 0.08, 0.30 and 0.49 (the base: 0.03; one seed, 200 items per split); and a control with the
// same format exposure as the middle one but every answer wrong (format without content).
var sweepExposures = []Exposure{{}, {Docs: 3072, Fraction: 0.5}, {Docs: 6144, Fraction: 0.5}, {Docs: 9600, Fraction: 0.5}, {Docs: 6144, Fraction: 0.5, Wrong: 1}}

// BudgetNames lists the budgets, sorted.
func BudgetNames() []string { return slices.Sorted(maps.Keys(Budgets)) }

// LookupBudget is the named budget, or an error listing the names.
func LookupBudget(name string) (Budget, error) {
	b, ok := Budgets[name]
	if !ok {
		return Budget{}, fmt.Errorf("unknown budget %q (want %s)", name, strings.Join(BudgetNames(), ", "))
	}
	b.Ns, b.T1Modes, b.T2At = slices.Clone(b.Ns), slices.Clone(b.T1Modes), slices.Clone(b.T2At)
	if b.Sweep != nil {
		sp := *b.Sweep
		sp.Betas, sp.Shapings, sp.Selections = slices.Clone(sp.Betas), slices.Clone(sp.Shapings), slices.Clone(sp.Selections)
		sp.Exposures, sp.LengthShapings = slices.Clone(sp.Exposures), slices.Clone(sp.LengthShapings)
		b.Sweep = &sp
	}
	return b, nil
}

// WithIterations is the budget with n PPO iterations per run, T2 read at 0, n/2 and n−1 (a
// sweep's gain runs; its length runs keep their horizon).
func (b Budget) WithIterations(n int) Budget {
	b.Iterations = n
	b.T2At = []int{0, n / 2, n - 1}
	if b.Sweep != nil {
		sp := *b.Sweep
		sp.GainIterations = n
		b.Sweep = &sp
	}
	return b
}

// Validate names the first field that cannot run.
func (b Budget) Validate() error {
	switch {
	case len(b.Ns) == 0:
		return fmt.Errorf("budget: ns is empty")
	case b.Seeds < 1:
		return fmt.Errorf("budget: seeds %d, want ≥ 1", b.Seeds)
	case b.Iterations < 1:
		return fmt.Errorf("budget: iterations %d, want ≥ 1", b.Iterations)
	case len(b.T2At) == 0 || b.T2At[len(b.T2At)-1] >= b.Iterations:
		return fmt.Errorf("budget: t2_at %v must be iterations below %d", b.T2At, b.Iterations)
	case b.EvalMaxNew < 1:
		return fmt.Errorf("budget: eval_max_new %d, want ≥ 1", b.EvalMaxNew)
	case b.OracleNeedsAnswers != "skip" && b.OracleNeedsAnswers != "fail":
		return fmt.Errorf("budget: oracle_without_answers %q, want skip or fail", b.OracleNeedsAnswers)
	case !slices.Contains(b.Ns, b.T2N):
		return fmt.Errorf("budget: t2_n %d is not one of ns %v", b.T2N, b.Ns)
	}
	if b.Sweep != nil {
		return b.Sweep.Validate()
	}
	return nil
}
