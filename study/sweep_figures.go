package study

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gosrppo/gosrppo/internal/atomicfile"
	"github.com/gosrppo/gosrppo/plotting"
	"github.com/gosrppo/gosrppo/srppo"
)

// The sweep's figures, under OUT/figures (and the published results_<budget>/).
const (
	SweepHeatMapFigure = "sweep_gain_beta_exposure.png" // out-of-domain gain over β × chat exposure
	SweepPairFigure    = "sweep_pairacc_vs_chat_em.png" // pairwise accuracy vs π_pt's chat EM
	SweepLengthFigure  = "sweep_length.png"             // mean length per iteration, length runs
)

// axisTitles name the one-factor axes in figure titles.
var axisTitles = map[string]string{AxisBeta: "KL coefficient β", AxisShaping: "reward shaping", AxisSelection: "SFT epoch", AxisExposure: "π_pt chat exposure"}

// sweepAxisFigure is the bar chart of one one-factor axis's EM change per split.
func sweepAxisFigure(axis string) string { return "sweep_axis_" + axis + ".png" }

// SweepFigures draws the sweep's figures into dir and returns their paths.
func (s *Study) SweepFigures(st *SweepTables, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	write := func(name string, data []byte, err error) error {
		if err != nil {
			return fmt.Errorf("figure %s: %w", name, err)
		}
		path := filepath.Join(dir, name)
		if err := plotting.WriteFile(path, data); err != nil {
			return err
		}
		paths = append(paths, path)
		return nil
	}
	for _, name := range []string{AxisBeta, AxisShaping, AxisSelection, AxisExposure} {
		t := st.Axis(name)
		if t == nil || len(t.Rows) < 2 {
			continue
		}
		var bars []plotting.Bar
		for _, r := range t.Rows {
			for _, sp := range st.Splits {
				c := r.Cells[GainCol(sp)]
				bars = append(bars, plotting.Bar{Method: r.Name, Group: sp, Mean: nanToZero(float64(c.Mean)), SD: nanToZero(float64(c.SD))})
			}
		}
		data, err := plotting.GroupedBars(fmt.Sprintf("EM change vs SFT by %s, N=%d%s", axisTitles[name], st.Budget.Sweep.N, overSeeds(st.Budget.Seeds)),
			"EM change vs SFT (points)", bars, plotting.PNG)
		if err := write(sweepAxisFigure(name), data, err); err != nil {
			return nil, err
		}
	}
	if t := st.Axis(AxisGrid); t != nil {
		sp := st.Budget.Sweep
		g := plotting.HeatGrid{Unit: "pts"}
		for _, b := range sp.Betas {
			g.XTicks = append(g.XTicks, "β="+strconv.FormatFloat(b, 'g', -1, 64))
		}
		for x := range sp.Exposures {
			g.YTicks = append(g.YTicks, fmt.Sprintf("%s: %.2f", shortExposure(sp.Exposures[x]), st.Bases[x].ChatAll))
			var vals, sds []float64
			for _, b := range sp.Betas {
				r := t.Rows[gridIndex(t, x, b)]
				vals, sds = append(vals, r.Mean(GainOODCol)), append(sds, float64(r.Cells[GainOODCol].SD))
			}
			g.Values, g.SD = append(g.Values, vals), append(g.SD, sds)
		}
		if st.Budget.Seeds < 2 {
			g.SD = nil
		}
		data, err := plotting.HeatMap(fmt.Sprintf("OOD EM gain over SFT (points), N=%d%s", sp.N, overSeeds(st.Budget.Seeds)),
			"KL coefficient β", "π_pt variant (zero-shot chat EM)", g, plotting.PNG)
		if err := write(SweepHeatMapFigure, data, err); err != nil {
			return nil, err
		}
	}
	if t := st.Axis(AxisExposure); t != nil && len(st.Bases) == len(t.Rows) {
		var id, ood plotting.ErrSeries
		id.Name, ood.Name = "in domain", "out of domain"
		for i, r := range t.Rows {
			x := st.Bases[i].ChatAll
			for _, p := range []struct {
				s   *plotting.ErrSeries
				col string
			}{{&id, PairIDCol}, {&ood, PairOODCol}} {
				c := r.Cells[p.col]
				if math.IsNaN(float64(c.Mean)) {
					continue
				}
				pt := plotting.ErrPoint{X: x, Y: float64(c.Mean), YErr: nanToZero(float64(c.SD))}
				if p.col == PairOODCol {
					pt.Label = shortExposure(st.Bases[i].Exposure)
				}
				p.s.Points = append(p.s.Points, pt)
			}
		}
		var series []plotting.ErrSeries
		for _, s := range []plotting.ErrSeries{id, ood} {
			if len(s.Points) > 0 {
				series = append(series, s)
			}
		}
		if len(series) > 0 {
			data, err := plotting.ScatterErrors("T3 pairwise accuracy vs π_pt's chat EM"+overSeeds(st.Budget.Seeds),
				"π_pt zero-shot chat EM", "T3 pairwise accuracy r(correct) > r(wrong)", series, plotting.PNG, plotting.WithHLine(0.5, "no ranking"))
			if err := write(SweepPairFigure, data, err); err != nil {
				return nil, err
			}
		}
	}
	if t := st.Axis(AxisLength); t != nil {
		var runs []plotting.MeanSD
		for _, c := range t.Axis.Configs {
			var perSeed [][]srppo.Metrics
			for seed := 1; seed <= st.Budget.Seeds; seed++ {
				ms, _, err := s.sweepPPO(c, seed)
				if err != nil {
					return nil, err
				}
				perSeed = append(perSeed, ms)
			}
			runs = append(runs, meanLengthOverSeeds(c.Placement+" "+c.Shaping, perSeed))
		}
		data, err := plotting.MeanLengthCurves("Mean rollout length, eos vs token per shaping"+overSeeds(st.Budget.Seeds),
			"response length (tokens)", runs, plotting.PNG)
		if err := write(SweepLengthFigure, data, err); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// shortExposure names a π_pt variant in a figure: "base", "f=0.5×6144", "f=0.5×6144 wrong".
func shortExposure(e Exposure) string {
	if e.Docs == 0 {
		return "base"
	}
	l := fmt.Sprintf("f=%g×%d", e.Fraction, e.Docs)
	if e.Wrong > 0 {
		l += " wrong"
	}
	return l
}

// gridIndex is the row of the β × exposure table for exposure x and β.
func gridIndex(t *SweepAxisTable, x int, beta float64) int {
	for i, c := range t.Axis.Configs {
		if c.Exposure == x && c.Beta == beta {
			return i
		}
	}
	return -1
}

// meanLengthOverSeeds is the mean ± sd over seeds of the rollout length at each iteration that
// every seed reached.
func meanLengthOverSeeds(name string, runs [][]srppo.Metrics) plotting.MeanSD {
	out := plotting.MeanSD{Name: name}
	n := math.MaxInt
	for _, ms := range runs {
		n = min(n, len(ms))
	}
	for i := 0; i < n && len(runs) > 0; i++ {
		var vs []float64
		for _, ms := range runs {
			vs = append(vs, ms[i].Length)
		}
		c := NewCell(vs)
		out.X, out.Mean, out.SD = append(out.X, float64(i)), append(out.Mean, float64(c.Mean)), append(out.SD, nanToZero(float64(c.SD)))
	}
	return out
}

// FinishSweep builds the sweep's tables, draws its figures and writes OUT/sweep.json and
// OUT/RESULTS_sweep.md (and publishes them when the workspace says so).
func (s *Study) FinishSweep() (*SweepTables, error) {
	st, err := s.SweepTables()
	if err != nil {
		return nil, err
	}
	s.tables.Seconds["total"] = s.totalSeconds()
	st.Seconds, st.Invocations = s.tables.Seconds, s.tables.Invocations
	figures, err := s.SweepFigures(st, filepath.Join(s.ws.Dir, FiguresDir))
	if err != nil {
		return nil, err
	}
	for _, f := range figures {
		st.Figures = append(st.Figures, figureRel(f))
	}
	if err := srppo.WriteJSON(filepath.Join(s.ws.Dir, SweepTablesFile), st); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(s.ws.Dir, SweepResultsFile), []byte(RenderSweepResults(st, FiguresDir, DesignLink(s.ws.Dir)))); err != nil {
		return nil, err
	}
	if s.ws.Publish != "" {
		if err := s.publishFiles(figures, SweepTablesFile, st, func(figRel string) string {
			return RenderSweepResults(st, figRel, DesignLink(s.ws.Publish))
		}); err != nil {
			return nil, err
		}
	}
	s.updateInvocation()
	s.logf("done; %s and %d figures in %s", filepath.Join(s.ws.Dir, SweepResultsFile), len(figures), filepath.Join(s.ws.Dir, FiguresDir))
	return st, nil
}
