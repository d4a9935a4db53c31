package study

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// OpenSweepNotebook opens the mechanism sweep of notebook 06 with a sweep budget ("sweep-small"
// in CI, "sweep" for RESULTS_sweep.md), in dir (empty: NotebookDir) on the built-in lean world
// and the shipped base model. Every cell opens it again and loads what earlier cells cached;
// point dir at the OUT of `srppo reproduce -budget sweep` to show that run without recomputing.
func OpenSweepNotebook(budget, dir, backend string) (*Study, error) {
	if err := SetBackend(backend); err != nil {
		return nil, err
	}
	b, err := LookupBudget(budget)
	if err != nil {
		return nil, err
	}
	if b.Sweep == nil {
		return nil, fmt.Errorf("budget %q is not a sweep (want one of the budgets with a sweep, e.g. sweep-small or sweep)", budget)
	}
	if dir == "" {
		dir = NotebookDir(budget)
	}
	ws := Workspace{Dir: dir, Preset: "lean", Command: fmt.Sprintf("notebook 06 (budget %s)", budget), BudgetName: budget}
	return Open(context.Background(), ws, b)
}

// needSweep is the error of a sweep call on a study whose budget is not a sweep.
func (s *Study) needSweep() error {
	if s.b.Sweep == nil {
		return fmt.Errorf("budget %q is not a sweep", s.ws.BudgetName)
	}
	return nil
}

// runSweepStages computes (or loads) the sweep's stages whose keys keep accepts, in plan order.
func (s *Study) runSweepStages(keep func(Stage) bool) error {
	if err := s.needSweep(); err != nil {
		return err
	}
	run := s.sweepRunners()
	for _, st := range s.sweepPlan() {
		if keep(st) {
			if err := run[st.Key](); err != nil {
				return err
			}
		}
	}
	return nil
}

func hasPrefix(key string, prefixes ...string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(key, p) })
}

// SweepBases continues pretraining (or loads) every π_pt variant and probes each zero-shot in
// the chat format.
func (s *Study) SweepBases() error {
	return s.runSweepStages(func(st Stage) bool { return hasPrefix(st.Key, "swbase-", "swt0-") })
}

// SweepSFT trains (or loads) π_sft on every variant for every seed — keeping the epochs with the
// best held-out loss, the best held-out exact match and the last — and computes each SFT model's
// evaluation, T3 with its length-matched variant, and the per-token baseline where a run uses it.
func (s *Study) SweepSFT() error {
	return s.runSweepStages(func(st Stage) bool {
		return hasPrefix(st.Key, "swbase-", "swsft-", "swevalsft-", "swt3-", "swbaseline-")
	})
}

// SweepRuns runs (or loads) the PPO runs of the named axis (AxisBeta, AxisShaping, …) for every
// seed, and their evaluations on the eval and validation splits.
func (s *Study) SweepRuns(axis string) error {
	if err := s.needSweep(); err != nil {
		return err
	}
	var names []string
	for _, ax := range s.b.Sweep.Axes() {
		if ax.Name == axis {
			for _, c := range ax.Configs {
				for seed := 1; seed <= s.b.Seeds; seed++ {
					names = append(names, sweepRunName(c, seed))
				}
			}
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("the sweep has no axis %q", axis)
	}
	return s.runSweepStages(func(st Stage) bool {
		return hasPrefix(st.Key, "swbase-", "swsft-", "swbaseline-") ||
			slices.ContainsFunc(names, func(n string) bool { return st.Key == "ppo-"+n || st.Key == "eval-"+n })
	})
}

// FormatSweepCriteria prints criteria (c) and (d) with their verdicts and evidence.
func FormatSweepCriteria(st *SweepTables) string {
	c, d := CriterionC(st), CriterionD(st)
	out := "(c) a configuration chosen on validation beats SFT by ≥ 5 EM points out of domain at N ≤ 64, within 2 in domain: " + plainLabel(c) + "\n"
	for _, l := range c.Lines {
		out += "  - " + l + "\n"
	}
	out += "(d) some shaping keeps `eos` within ±10 % of SFT's length while `token` under it does not: " + plainLabel(d) + "\n"
	for _, l := range d.Lines {
		out += "  - " + l + "\n"
	}
	return out
}

// SweepDiscussion is the discussion of RESULTS_sweep.md, one paragraph per hypothesis.
func SweepDiscussion(st *SweepTables) []string { return sweepDiscussion(st) }

// FormatSweepSFT renders the sweep's SFT models: for each π_pt variant and epoch selection, the
// greedy EM per split on the eval and the validation items (mean ± sd over seeds).
func (s *Study) FormatSweepSFT() (string, error) {
	if err := s.needSweep(); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("| π_pt variant | N | SFT epoch by |")
	for _, sp := range s.splits {
		b.WriteString(" eval " + sp + " |")
	}
	for _, sp := range s.splits {
		b.WriteString(" val " + sp + " |")
	}
	b.WriteString("\n|---|---|---|" + strings.Repeat("---|", 2*len(s.splits)) + "\n")
	for _, m := range s.b.Sweep.sftModels() {
		var evals []sweepEval
		for seed := 1; seed <= s.b.Seeds; seed++ {
			e, err := s.sweepEvalSFT(m, seed)
			if err != nil {
				return "", err
			}
			evals = append(evals, e)
		}
		fmt.Fprintf(&b, "| %s | %d | %s |", s.b.Sweep.Exposures[m.X].Label(), m.N, m.Sel)
		for _, val := range []bool{false, true} {
			for _, sp := range s.splits {
				var vs []float64
				for _, e := range evals {
					if val {
						vs = append(vs, e.Val.EM[sp])
					} else {
						vs = append(vs, e.Eval.EM[sp])
					}
				}
				c := NewCell(vs)
				if c.N > 1 {
					fmt.Fprintf(&b, " %.3f ± %.3f |", c.Mean, c.SD)
				} else {
					fmt.Fprintf(&b, " %.3f |", c.Mean)
				}
			}
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}
