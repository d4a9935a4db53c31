package study

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gosrppo/gosrppo/srppo"
)

// SweepTables is what a sweep's OUT/sweep.json holds: one table per axis, the π_pt variants,
// and everything else RESULTS_sweep.md says, so that it can be re-rendered from the file alone.
type SweepTables struct {
	Budget      Budget             `json:"budget"`
	Command     string             `json:"command"`
	Build       string             `json:"build,omitempty"`
	BaseNote    string             `json:"base_note,omitempty"`
	Splits      []string           `json:"splits"`
	Model       ModelShape         `json:"model"`
	Samples     int                `json:"samples"`
	Bases       []SweepBase        `json:"bases"`
	Axes        []SweepAxisTable   `json:"axes"`
	Seconds     map[string]float64 `json:"seconds"`
	Invocations []Invocation       `json:"invocations,omitempty"`
	Figures     []string           `json:"figures,omitempty"`
}

// SweepBase is one π_pt variant: how it was made and its zero-shot chat exact match.
type SweepBase struct {
	Exposure Exposure           `json:"exposure"`
	Label    string             `json:"label"`
	ChatDocs int                `json:"chat_docs"`
	Steps    int                `json:"steps"`
	ChatEM   map[string]float64 `json:"chat_em"` // by eval split
	ChatAll  float64            `json:"chat_em_all"`
}

// SweepAxisTable is one axis's table: Rows[i] is the level Axis.Levels[i] (Axis.Configs[i]).
type SweepAxisTable struct {
	Axis SweepAxis `json:"axis"`
	Rows []Row     `json:"rows"`
}

// The columns of a sweep row. EM changes are in points (PPO minus its own SFT model, per seed);
// pairwise accuracies and Δ are T3's, of the SFT model the run starts from.
func GainCol(split string) string    { return "Δ " + split }
func ValGainCol(split string) string { return "val Δ " + split }

const (
	GainOODCol    = "Δ ood"         // mean over the out-of-domain eval splits
	ValGainOODCol = "val Δ ood"     // the same on the validation split (what selection reads)
	SFTIDCol      = "SFT id EM"     // the SFT model's eval EM, in domain
	SFTOODCol     = "SFT ood EM"    // and out of domain (mean over splits)
	LenStartCol   = "len@0"         // mean rollout length at iteration 0 (π_sft)
	LenEndCol     = "len@end"       // at the last iteration
	LenChangeCol  = "len Δ%"        // 100·(len@end/len@0 − 1), per seed
	TruncEndCol   = "trunc%@end"    // truncated rollouts at the last iteration
	PairIDCol     = "pair id"       // T3 pairwise accuracy r(correct) > r(wrong), in domain
	PairOODCol    = "pair ood"      // out of domain (mean over splits)
	SameLenOODCol = "same-len ood"  // only equal-length pairs
	DetrendOODCol = "detrended ood" // r with its linear length trend removed
	DeltaContCol  = "Δ/content tok" // mean Δ_t over content tokens (nats)
	DeltaEOSCol   = "Δ@eos"         // mean Δ_t at <eos> (nats)
)

// BuildSweepRow is a configuration's row from its per-seed results.
func BuildSweepRow(name string, key Method, splits []string, seeds []sweepSeed) Row {
	r := Row{Key: Key{Method: key}, Name: name, Cells: map[string]Cell{}}
	col := func(c string, f func(sweepSeed) float64) {
		var vs []float64
		for _, sd := range seeds {
			vs = append(vs, f(sd))
		}
		r.add(c, vs)
	}
	ood := splits[min(1, len(splits)):]
	meanOver := func(sps []string, f func(string) float64) float64 {
		if len(sps) == 0 {
			return math.NaN()
		}
		var sum float64
		for _, sp := range sps {
			sum += f(sp)
		}
		return sum / float64(len(sps))
	}
	for _, sp := range splits {
		col(GainCol(sp), func(sd sweepSeed) float64 { return 100 * (sd.ppo.Eval.EM[sp] - sd.sft.Eval.EM[sp]) })
	}
	col(GainOODCol, func(sd sweepSeed) float64 {
		return meanOver(ood, func(sp string) float64 { return 100 * (sd.ppo.Eval.EM[sp] - sd.sft.Eval.EM[sp]) })
	})
	col(ValGainCol(splits[0]), func(sd sweepSeed) float64 { return 100 * (sd.ppo.Val.EM[splits[0]] - sd.sft.Val.EM[splits[0]]) })
	col(ValGainOODCol, func(sd sweepSeed) float64 {
		return meanOver(ood, func(sp string) float64 { return 100 * (sd.ppo.Val.EM[sp] - sd.sft.Val.EM[sp]) })
	})
	col(SFTIDCol, func(sd sweepSeed) float64 { return sd.sft.Eval.EM[splits[0]] })
	col(SFTOODCol, func(sd sweepSeed) float64 {
		return meanOver(ood, func(sp string) float64 { return sd.sft.Eval.EM[sp] })
	})
	col(LenStartCol, func(sd sweepSeed) float64 {
		return metricAt(sd.metrics, 0, func(m srppo.Metrics) float64 { return m.Length })
	})
	col(LenEndCol, func(sd sweepSeed) float64 {
		return metricAt(sd.metrics, -1, func(m srppo.Metrics) float64 { return m.Length })
	})
	col(LenChangeCol, func(sd sweepSeed) float64 {
		l0 := metricAt(sd.metrics, 0, func(m srppo.Metrics) float64 { return m.Length })
		return 100 * (metricAt(sd.metrics, -1, func(m srppo.Metrics) float64 { return m.Length })/l0 - 1)
	})
	col(TruncEndCol, func(sd sweepSeed) float64 {
		return metricAt(sd.metrics, -1, func(m srppo.Metrics) float64 { return m.TruncPct })
	})
	t3 := func(sd sweepSeed, sp string) srppo.RewardDiagnostics {
		for _, d := range sd.t3.T3 {
			if d.Split == sp {
				return d
			}
		}
		return srppo.RewardDiagnostics{PairwiseAcc: srppo.Float(math.NaN()), DeltaContent: srppo.Float(math.NaN()), DeltaEOS: srppo.Float(math.NaN())}
	}
	ld := func(sd sweepSeed, sp string) srppo.LengthDiagnostics {
		for _, d := range sd.t3.Length {
			if d.Split == sp {
				return d
			}
		}
		return srppo.LengthDiagnostics{PairwiseAccSameLen: srppo.Float(math.NaN()), PairwiseAccDetrended: srppo.Float(math.NaN())}
	}
	col(PairIDCol, func(sd sweepSeed) float64 { return float64(t3(sd, splits[0]).PairwiseAcc) })
	col(PairOODCol, func(sd sweepSeed) float64 {
		return nanMean(ood, func(sp string) float64 { return float64(t3(sd, sp).PairwiseAcc) })
	})
	col(SameLenOODCol, func(sd sweepSeed) float64 {
		return nanMean(ood, func(sp string) float64 { return float64(ld(sd, sp).PairwiseAccSameLen) })
	})
	col(DetrendOODCol, func(sd sweepSeed) float64 {
		return nanMean(ood, func(sp string) float64 { return float64(ld(sd, sp).PairwiseAccDetrended) })
	})
	col(DeltaContCol, func(sd sweepSeed) float64 {
		return nanMean(splits, func(sp string) float64 { return float64(t3(sd, sp).DeltaContent) })
	})
	col(DeltaEOSCol, func(sd sweepSeed) float64 {
		return nanMean(splits, func(sp string) float64 { return float64(t3(sd, sp).DeltaEOS) })
	})
	return r
}

// sweepSeed is what one seed of one configuration produced.
type sweepSeed struct {
	sft, ppo sweepEval
	metrics  []srppo.Metrics
	t3       sweepT3
}

// metricAt reads a quantity at rollout iteration i (−1: the last), NaN when there is none.
func metricAt(ms []srppo.Metrics, i int, f func(srppo.Metrics) float64) float64 {
	if len(ms) == 0 {
		return math.NaN()
	}
	if i < 0 || i >= len(ms) {
		i = len(ms) - 1
	}
	return f(ms[i])
}

// nanMean is the mean of f over keys, skipping NaNs (NaN when all are).
func nanMean(keys []string, f func(string) float64) float64 {
	var sum float64
	n := 0
	for _, k := range keys {
		if v := f(k); !math.IsNaN(v) {
			sum += v
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// SweepTables builds the sweep's tables from the cached stages (computing any that are missing).
func (s *Study) SweepTables() (*SweepTables, error) {
	if err := s.needSweep(); err != nil {
		return nil, err
	}
	sp := s.b.Sweep
	st := &SweepTables{Budget: s.b, Command: s.ws.Command, Build: BuildStamp(), BaseNote: s.baseNote, Splits: s.splits,
		Model: ModelShape{Layers: s.pt.Config.Layers, DModel: s.pt.Config.DModel}, Samples: s.tables.Samples, Seconds: s.tables.Seconds}
	var err error
	if st.Bases, err = s.sweepBaseRows(); err != nil {
		return nil, err
	}
	rows := map[string]Row{}
	for _, ax := range sp.Axes() {
		t, err := s.sweepAxisTable(ax, rows)
		if err != nil {
			return nil, err
		}
		st.Axes = append(st.Axes, *t)
	}
	return st, nil
}

// sweepBaseRows describes every π_pt variant (computing any that is missing).
func (s *Study) sweepBaseRows() ([]SweepBase, error) {
	var out []SweepBase
	for x, e := range s.b.Sweep.Exposures {
		b := SweepBase{Exposure: e, Label: e.Label()}
		if x > 0 {
			var done continuedPretraining
			if err := s.cached(fmt.Sprintf("swbase-x%d", x), &done, func() error { _, err := s.sweepBase(x); return err }); err != nil {
				return nil, err
			}
			b.ChatDocs, b.Steps = done.ChatDocs, done.Steps
		}
		t0, err := s.sweepT0(x)
		if err != nil {
			return nil, err
		}
		b.ChatEM, b.ChatAll = t0.EM, t0.All.EM
		out = append(out, b)
	}
	return out, nil
}

// sweepAxisTable builds one axis's table; rows caches the rows of configurations already built.
func (s *Study) sweepAxisTable(ax SweepAxis, rows map[string]Row) (*SweepAxisTable, error) {
	t := &SweepAxisTable{Axis: ax}
	for i, c := range ax.Configs {
		r, ok := rows[c.Name()]
		if !ok {
			var seeds []sweepSeed
			for seed := 1; seed <= s.b.Seeds; seed++ {
				var sd sweepSeed
				var err error
				if sd.sft, err = s.sweepEvalSFT(c.sftModel(), seed); err != nil {
					return nil, err
				}
				if sd.ppo, err = s.sweepEvalPPO(c, seed); err != nil {
					return nil, err
				}
				if sd.metrics, _, err = s.sweepPPO(c, seed); err != nil {
					return nil, err
				}
				if sd.t3, err = s.sweepT3(c.sftModel(), seed); err != nil {
					return nil, err
				}
				seeds = append(seeds, sd)
			}
			r = BuildSweepRow("", Method(c.Name()), s.splits, seeds)
			rows[c.Name()] = r
		}
		r.Name = ax.Levels[i]
		t.Rows = append(t.Rows, r)
	}
	return t, nil
}

// SweepAxisTable is the table of one axis (computing what is missing), e.g. for a notebook cell.
func (s *Study) SweepAxisTable(name string) (*SweepAxisTable, error) {
	if err := s.needSweep(); err != nil {
		return nil, err
	}
	for _, ax := range s.b.Sweep.Axes() {
		if ax.Name == name {
			return s.sweepAxisTable(ax, map[string]Row{})
		}
	}
	return nil, fmt.Errorf("the sweep has no axis %q", name)
}

// FormatSweepBases renders the π_pt variants table (computing what is missing).
func (s *Study) FormatSweepBases() (string, error) {
	if err := s.needSweep(); err != nil {
		return "", err
	}
	bases, err := s.sweepBaseRows()
	if err != nil {
		return "", err
	}
	return FormatBases(&SweepTables{Splits: s.splits, Bases: bases}), nil
}

// Axis is the table of the named axis (nil when the sweep has none).
func (st *SweepTables) Axis(name string) *SweepAxisTable {
	for i := range st.Axes {
		if st.Axes[i].Axis.Name == name {
			return &st.Axes[i]
		}
	}
	return nil
}

// sweepColumns are the columns a table of the sweep prints, in order.
func sweepColumns(splits []string, length bool) []string {
	var cols []string
	for _, sp := range splits {
		cols = append(cols, GainCol(sp))
	}
	cols = append(cols, GainOODCol, ValGainCol(splits[0]), ValGainOODCol)
	if length {
		return append(cols, LenStartCol, LenEndCol, LenChangeCol, TruncEndCol)
	}
	return append(cols, LenChangeCol, TruncEndCol, SFTIDCol, SFTOODCol, PairIDCol, PairOODCol, SameLenOODCol, DetrendOODCol, DeltaContCol, DeltaEOSCol)
}

// sweepCellFormat: points and percentages with one decimal, rates three, nats two.
func sweepCellFormat(col string) string {
	switch {
	case strings.HasPrefix(col, "Δ ") || strings.HasPrefix(col, "val Δ") || strings.Contains(col, "%"):
		return "%+.1f"
	case strings.HasPrefix(col, "Δ") || strings.HasPrefix(col, "len@"):
		return "%.2f"
	}
	return "%.3f"
}

// FormatSweepTable renders one axis table as Markdown.
func FormatSweepTable(t SweepAxisTable, splits []string) string {
	var b strings.Builder
	cols := sweepColumns(splits, t.Axis.Name == AxisLength)
	b.WriteString("| " + t.Axis.Varies + " |")
	for _, c := range cols {
		b.WriteString(" " + c + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(cols)) + "\n")
	for _, r := range t.Rows {
		b.WriteString("| " + r.Name + " |")
		for _, c := range cols {
			v, ok := r.Cells[c]
			f := sweepCellFormat(c)
			if c == TruncEndCol {
				f = "%.1f"
			}
			switch {
			case !ok || math.IsNaN(float64(v.Mean)):
				b.WriteString(" – |")
			case v.N > 1:
				fmt.Fprintf(&b, " "+f+" ± %s |", v.Mean, strings.TrimPrefix(fmt.Sprintf(f, v.SD), "+"))
			default:
				fmt.Fprintf(&b, " "+f+" |", v.Mean)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// FormatBases renders the π_pt variants: how each was made and its zero-shot chat EM.
func FormatBases(st *SweepTables) string {
	var b strings.Builder
	b.WriteString("| π_pt variant | chat docs | steps |")
	for _, sp := range st.Splits {
		b.WriteString(" chat EM " + sp + " |")
	}
	b.WriteString(" chat EM all |\n|---|---|---|" + strings.Repeat("---|", len(st.Splits)+1) + "\n")
	for _, base := range st.Bases {
		fmt.Fprintf(&b, "| %s | %d | %d |", base.Label, base.ChatDocs, base.Steps)
		for _, sp := range st.Splits {
			fmt.Fprintf(&b, " %.3f |", base.ChatEM[sp])
		}
		fmt.Fprintf(&b, " %.3f |\n", base.ChatAll)
	}
	return b.String()
}

// gainRows are the rows of every gain axis (all but the length one), each configuration once.
func (st *SweepTables) gainRows() []Row {
	var out []Row
	seen := map[Method]bool{}
	for _, t := range st.Axes {
		if t.Axis.Name == AxisLength {
			continue
		}
		for _, r := range t.Rows {
			if !seen[r.Key.Method] {
				seen[r.Key.Method] = true
				out = append(out, r)
			}
		}
	}
	return out
}

// cellText prints a cell as mean ± sd with format f.
func cellText(r Row, col, f string) string {
	c, ok := r.Cells[col]
	if !ok || math.IsNaN(float64(c.Mean)) {
		return "–"
	}
	if c.N > 1 {
		return fmt.Sprintf(f+" ± "+strings.Replace(f, "%+", "%", 1), c.Mean, c.SD)
	}
	return fmt.Sprintf(f, c.Mean)
}

// CriterionC is design §6b (c): the configuration chosen on the validation split — the largest
// mean out-of-domain EM gain over SFT among those within 2 points of SFT in domain there — beats
// SFT by ≥ 5 points on some out-of-domain eval split and stays within 2 points in domain
// (3-seed means), at N ≤ 64.
func CriterionC(st *SweepTables) Verdict {
	var v Verdict
	if len(st.Splits) < 2 {
		v.Lines = append(v.Lines, "the eval set has no out-of-domain split")
		return v
	}
	if st.Budget.Sweep == nil || st.Budget.Sweep.N > 64 {
		v.Lines = append(v.Lines, "needs a sweep at N ≤ 64")
		return v
	}
	id := st.Splits[0]
	const tol = 1e-9 // float rounding must not decide a boundary case
	var chosen *Row
	for _, r := range st.gainRows() {
		if math.Abs(r.Mean(ValGainCol(id))) > 2+tol || math.IsNaN(r.Mean(ValGainOODCol)) {
			continue
		}
		if chosen == nil || r.Mean(ValGainOODCol) > chosen.Mean(ValGainOODCol) {
			chosen = &r
		}
	}
	v.Measured = true
	if chosen == nil {
		v.Lines = append(v.Lines, "no configuration stays within 2 points of SFT in domain on the validation split")
		return v
	}
	best, at := math.Inf(-1), ""
	for _, sp := range st.Splits[1:] {
		if g := chosen.Mean(GainCol(sp)); g > best {
			best, at = g, sp
		}
	}
	idGain := chosen.Mean(GainCol(id))
	okOOD, okID := best >= 5-tol, math.Abs(idGain) <= 2+tol
	v.Held = okOOD && okID
	v.Lines = append(v.Lines,
		fmt.Sprintf("chosen on validation: %s (`%s`), validation gain %s out of domain, %s in domain",
			chosen.Name, chosen.Key.Method, cellText(*chosen, ValGainOODCol, "%+.1f"), cellText(*chosen, ValGainCol(id), "%+.1f")),
		fmt.Sprintf("its eval gain: best out-of-domain %+.1f points (%s, %s; needs ≥ +5: %s), in domain %s (needs within ±2: %s)",
			best, at, cellText(*chosen, GainCol(at), "%+.1f"), yesNo(okOOD), cellText(*chosen, GainCol(id), "%+.1f"), yesNo(okID)))
	return v
}

// CriterionD is design §6b (d): under some shaping, `eos` keeps its mean rollout length within
// ±10 % of the SFT policy's (iteration 0) at the last iteration while `token` under the same
// shaping moves it by more than ±10 % (3-seed means).
func CriterionD(st *SweepTables) Verdict {
	var v Verdict
	t := st.Axis(AxisLength)
	if t == nil || len(t.Rows) == 0 {
		v.Lines = append(v.Lines, "the sweep has no length runs")
		return v
	}
	change := func(r Row) (l0, l1, pct float64) {
		l0, l1 = r.Mean(LenStartCol), r.Mean(LenEndCol)
		return l0, l1, 100 * (l1/l0 - 1)
	}
	const tol = 1e-9
	var shapings []string
	for _, c := range t.Axis.Configs {
		if !slices.Contains(shapings, c.Shaping) {
			shapings = append(shapings, c.Shaping)
		}
	}
	iters := t.Axis.Configs[0].Iterations
	for _, sh := range shapings {
		var eos, tok *Row
		for i, c := range t.Axis.Configs {
			if c.Shaping != sh {
				continue
			}
			switch c.Placement {
			case srppo.PlaceEOS:
				eos = &t.Rows[i]
			case srppo.PlaceToken:
				tok = &t.Rows[i]
			}
		}
		if eos == nil || tok == nil {
			continue
		}
		e0, e1, ep := change(*eos)
		t0, t1, tp := change(*tok)
		if math.IsNaN(ep) || math.IsNaN(tp) {
			continue
		}
		okEOS, okTok := math.Abs(ep) <= 10+tol, math.Abs(tp) > 10+tol
		v.Measured = true
		v.Held = v.Held || okEOS && okTok
		v.Lines = append(v.Lines, fmt.Sprintf("%s: `eos` %.2f → %.2f tokens (%+.0f %%; within ±10 %%: %s), `token` %.2f → %.2f (%+.0f %%; beyond ±10 %%: %s) at iteration %d",
			sh, e0, e1, ep, yesNo(okEOS), t0, t1, tp, yesNo(okTok), iters-1))
	}
	if !v.Measured {
		v.Lines = append(v.Lines, "no shaping has both an `eos` and a `token` length run")
	}
	return v
}
