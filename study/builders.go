package study

import (
	"fmt"
	"math"
	"slices"

	"github.com/gosrppo/gosrppo/srppo"
)

// One builder per table. Each takes the per-seed results of one N and returns its rows, keyed
// by {N, Method, Split}; a cell is the mean ± sd over seeds.

func collect[R any](results []R, f func(R) float64) []float64 {
	out := make([]float64, len(results))
	for i, r := range results {
		out[i] = f(r)
	}
	return out
}

// BuildT1 is T1 at N, the main results: one row per method (π_pt, SFT, SFT-long and each PPO
// mode), greedy EM per split, EOS % and mean length. A method that did not run (oracle-PPO
// without gold answers) gets undefined cells.
func BuildT1(n int, modes, splits []string, results []seedResult) []Row {
	methods := []Method{MethodPT, MethodSFT, MethodSFTLong}
	for _, mode := range modes {
		methods = append(methods, Method(mode))
	}
	var rows []Row
	for _, meth := range methods {
		row := Row{Key: Key{N: n, Method: meth}, Name: fmt.Sprintf("N=%d %s", n, meth.Label()), Cells: map[string]Cell{}}
		get := func(f func(evalResult) float64) func(seedResult) float64 {
			return func(r seedResult) float64 {
				if e, ok := r.evals[meth]; ok {
					return f(e)
				}
				return math.NaN()
			}
		}
		for _, split := range splits {
			row.add(EMCol(split), collect(results, get(func(e evalResult) float64 { return e.EM[split] })))
		}
		row.add("EOS %", collect(results, get(func(e evalResult) float64 { return 100 * e.All.EOSRate })))
		row.add("length", collect(results, get(func(e evalResult) float64 { return e.All.MeanLen })))
		rows = append(rows, row)
	}
	return rows
}

// BuildT2 is T2 at N, the length dynamics of every PPO variant run there: mean length, truncated
// % and EOS % at the iterations at, the last iteration's KL and reward, and greedy EM per split.
func BuildT2(n int, at []int, splits []string, results []seedResult) []Row {
	var rows []Row
	for _, meth := range sortedMethods(results[0].metrics) {
		row := Row{Key: Key{N: n, Method: meth}, Name: string(meth), Cells: map[string]Cell{}}
		for _, it := range at {
			i := min(it, len(results[0].metrics[meth])-1)
			row.add(LenCol(it), collect(results, func(r seedResult) float64 { return r.metrics[meth][i].Length }))
			row.add(TruncCol(it), collect(results, func(r seedResult) float64 { return r.metrics[meth][i].TruncPct }))
			row.add(EOSCol(it), collect(results, func(r seedResult) float64 { return r.metrics[meth][i].EOSPct }))
		}
		last := func(r seedResult) srppo.Metrics { ms := r.metrics[meth]; return ms[len(ms)-1] }
		row.add("KL", collect(results, func(r seedResult) float64 { return last(r).KL }))
		row.add("reward", collect(results, func(r seedResult) float64 { return last(r).Reward }))
		for _, split := range splits {
			row.add(EMCol(split), collect(results, func(r seedResult) float64 { return r.evals[meth].EM[split] }))
		}
		rows = append(rows, row)
	}
	return rows
}

// t5Methods are the reward ablation's rows: the coherent reward at <eos> against log π_sft
// alone, the true reward and no reward.
var t5Methods = []Method{MethodLogpSFT, MethodZero, MethodOracle, MethodEOS}

// BuildT5 is T5, the reward ablation: the T2 rows of the T5 methods.
func BuildT5(t2 []Row) []Row {
	var rows []Row
	for _, r := range t2 {
		if slices.Contains(t5Methods, r.Key.Method) {
			rows = append(rows, r)
		}
	}
	return rows
}

// BuildT3 is T3 at N, the reward diagnostics of π_sft per split: pass@1, pass@K, best-of-K by
// the coherent reward, pairwise accuracy and the mean Δ on content and on <eos>.
func BuildT3(n int, results []seedResult) []Row {
	var rows []Row
	for i, d := range results[0].t3 {
		row := Row{Key: Key{N: n, Split: d.Split}, Name: fmt.Sprintf("N=%d %s", n, d.Split), Cells: map[string]Cell{}}
		get := func(f func(srppo.RewardDiagnostics) float64) []float64 {
			return collect(results, func(r seedResult) float64 { return f(r.t3[i]) })
		}
		row.add("pass@1", get(func(x srppo.RewardDiagnostics) float64 { return x.Pass1 }))
		row.add(fmt.Sprintf("pass@%d", d.K), get(func(x srppo.RewardDiagnostics) float64 { return x.PassK }))
		row.add(fmt.Sprintf("best-of-%d by r", d.K), get(func(x srppo.RewardDiagnostics) float64 { return x.BestOfK }))
		row.add("pairwise acc", get(func(x srppo.RewardDiagnostics) float64 { return float64(x.PairwiseAcc) }))
		row.add("Δ content", get(func(x srppo.RewardDiagnostics) float64 { return float64(x.DeltaContent) }))
		row.add("Δ EOS", get(func(x srppo.RewardDiagnostics) float64 { return float64(x.DeltaEOS) }))
		rows = append(rows, row)
	}
	return rows
}

// t4Methods are T4's rows, in order.
var t4Methods = []Method{MethodPoolSFT, MethodPoolID, MethodPoolIDOD}

// BuildT4 is T4 at N, SRPPO-eos by PPO prompt pool: greedy EM per split.
func BuildT4(n int, splits []string, results []seedResult) []Row {
	var rows []Row
	for _, meth := range t4Methods {
		row := Row{Key: Key{N: n, Method: meth}, Name: string(meth), Cells: map[string]Cell{}}
		for _, split := range splits {
			row.add(EMCol(split), collect(results, func(r seedResult) float64 {
				if e, ok := r.evals[meth]; ok {
					return e.EM[split]
				}
				return math.NaN()
			}))
		}
		rows = append(rows, row)
	}
	return rows
}
