package study

import (
	"fmt"
	"math"
	"slices"
)

// Verdict is the outcome of a pre-registered criterion: held, not held, or not measurable with
// what the run has (Measured false), with the numbers that decided it.
type Verdict struct {
	Measured, Held bool
	Lines          []string // one line of evidence each
}

// Label is the verdict as RESULTS.md prints it.
func (v Verdict) Label() string {
	switch {
	case !v.Measured:
		return "not measured"
	case v.Held:
		return "**held**"
	}
	return "**not held**"
}

// lengthChange reads a T2 row: mean rollout length at iterations first and last, and the change
// in percent (NaN where the row lacks them).
func lengthChange(r Row, first, last int) (l0, l1, pct float64) {
	l0, l1 = r.Mean(LenCol(first)), r.Mean(LenCol(last))
	return l0, l1, 100 * (l1/l0 - 1)
}

// CriterionA is design §6 (a): at every N ≤ 64 SRPPO-eos beats SFT by ≥ 5 EM points on some
// out-of-domain split and is within 2 points in domain (3-seed means), and the best
// out-of-domain gain is smaller at N = 1024 than at each N ≤ 64. inDomain is the first split
// of the eval file; every other split is out of domain. Rows are found by {N, Method}.
func CriterionA(t1 []Row, ns []int, splits []string) Verdict {
	var v Verdict
	if len(splits) < 2 {
		v.Lines = append(v.Lines, "the eval set has no out-of-domain split")
		return v
	}
	gain := func(n int, split string) float64 {
		return 100 * (Find(t1, Key{N: n, Method: MethodEOS}).Mean(EMCol(split)) - Find(t1, Key{N: n, Method: MethodSFT}).Mean(EMCol(split)))
	}
	bestOOD := func(n int) (float64, string) {
		best, at := math.Inf(-1), ""
		for _, s := range splits[1:] {
			if g := gain(n, s); g > best {
				best, at = g, s
			}
		}
		return best, at
	}
	small := slices.DeleteFunc(slices.Clone(ns), func(n int) bool { return n > 64 })
	if len(small) == 0 || !slices.Contains(ns, 1024) {
		v.Lines = append(v.Lines, fmt.Sprintf("needs N ≤ 64 and N = 1024; the run has N = %v", ns))
		return v
	}
	v.Measured, v.Held = true, true
	large, largeAt := bestOOD(1024)
	for _, n := range small {
		ood, at := bestOOD(n)
		id := gain(n, splits[0])
		const tol = 1e-9 // float rounding must not decide a boundary case
		okOOD, okID, narrows := ood >= 5-tol, math.Abs(id) <= 2+tol, large < ood
		v.Held = v.Held && okOOD && okID && narrows
		v.Lines = append(v.Lines, fmt.Sprintf("N=%d: best out-of-domain gain %+.1f points (%s; needs ≥ +5: %s), in-domain %+.1f (needs within ±2: %s), N=1024 gain %+.1f (%s; narrower: %s)",
			n, ood, at, yesNo(okOOD), id, yesNo(okID), large, largeAt, yesNo(narrows)))
	}
	return v
}

// CriterionB is design §6 (b): by the last iteration, `token` moves the mean rollout length
// ≥ 25 % away from the SFT policy's (iteration 0) or truncates > 20 % of responses, while `eos`
// stays within ±10 % of it (3-seed means). Rows are found by {N, Method} at the T2 N.
func CriterionB(t2 []Row, n int, at []int) Verdict {
	var v Verdict
	if len(at) < 2 {
		v.Lines = append(v.Lines, "the run reports length at fewer than two iterations")
		return v
	}
	first, last := at[0], at[len(at)-1]
	tokRow := Find(t2, Key{N: n, Method: MethodToken})
	tok0, tok1, tok := lengthChange(tokRow, first, last)
	eos0, eos1, eos := lengthChange(Find(t2, Key{N: n, Method: MethodEOS}), first, last)
	trunc := tokRow.Mean(TruncCol(last))
	if math.IsNaN(tok) || math.IsNaN(eos) {
		v.Lines = append(v.Lines, "the run has no `token` and `eos` length dynamics (T2)")
		return v
	}
	// The tolerance keeps float rounding from deciding a boundary case (4.4/4 − 1 > 0.1).
	const tol = 1e-9
	okTok, okEOS := math.Abs(tok) >= 25-tol || trunc > 20, math.Abs(eos) <= 10+tol
	v.Measured, v.Held = true, okTok && okEOS
	v.Lines = append(v.Lines,
		fmt.Sprintf("`token`: mean length %.2f → %.2f tokens (%+.0f %%), truncated %.1f %% at iteration %d (needs |change| ≥ 25 %% or truncated > 20 %%: %s)",
			tok0, tok1, tok, trunc, last, yesNo(okTok)),
		fmt.Sprintf("`eos`: mean length %.2f → %.2f tokens (%+.0f %%) at iteration %d (needs within ±10 %%: %s)",
			eos0, eos1, eos, last, yesNo(okEOS)))
	return v
}

// Criteria are (a) and (b) read from the tables.
func Criteria(t *Tables) (a, b Verdict) {
	return CriterionA(t.T1, t.Budget.Ns, t.Splits), CriterionB(t.T2, t.Budget.T2N, t.Budget.T2At)
}

// FormatCriteria prints both criteria with their verdicts and evidence (the notebook's cell).
func FormatCriteria(t *Tables) string {
	a, b := Criteria(t)
	s := "(a) SRPPO-eos beats SFT by ≥ 5 EM points out of domain at N ≤ 64, within 2 in domain, and the gap narrows at N = 1024: " + plainLabel(a) + "\n"
	for _, l := range a.Lines {
		s += "  - " + l + "\n"
	}
	s += "(b) `token` moves mean length ≥ 25 % away from SFT (or truncates > 20 %) while `eos` stays within ±10 %: " + plainLabel(b) + "\n"
	for _, l := range b.Lines {
		s += "  - " + l + "\n"
	}
	return s
}

func plainLabel(v Verdict) string {
	switch {
	case !v.Measured:
		return "not measured"
	case v.Held:
		return "held"
	}
	return "not held"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
