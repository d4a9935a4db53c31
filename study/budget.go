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
}

// BudgetNames lists the budgets, sorted.
func BudgetNames() []string { return slices.Sorted(maps.Keys(Budgets)) }

// LookupBudget is the named budget, or an error listing the names.
func LookupBudget(name string) (Budget, error) {
	b, ok := Budgets[name]
	if !ok {
		return Budget{}, fmt.Errorf("unknown budget %q (want %s)", name, strings.Join(BudgetNames(), ", "))
	}
	b.Ns, b.T1Modes, b.T2At = slices.Clone(b.Ns), slices.Clone(b.T1Modes), slices.Clone(b.T2At)
	return b, nil
}

// WithIterations is the budget with n PPO iterations per run, T2 read at 0, n/2 and n−1.
func (b Budget) WithIterations(n int) Budget {
	b.Iterations = n
	b.T2At = []int{0, n / 2, n - 1}
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
	return nil
}
