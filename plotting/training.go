package plotting

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one metric over steps: Y[i] at step X[i].
type Series struct {
	Name string
	X, Y []float64
}

// Panel is one subplot: a title, axis labels (include units, e.g.
// "loss (nats/token)") and one or more series.
type Panel struct {
	Title, XLabel, YLabel string
	Series                []Series
}

// Default heights of one row of panels' data area.
const (
	curveRowHeight     = 1.75 * vg.Inch
	dashboardRowHeight = 1.45 * vg.Inch
)

// TrainingCurves draws a grid of panels, cols per row (3 when cols <= 0),
// each showing named metric series against step or iteration: loss,
// validation loss, reward, KL, length, EOS %, clip fraction, approx-KL, value
// loss, explained variance, entropy... Series that share a panel (e.g.
// "train" and "validation") get distinct colours, the same for a name in
// every panel, listed in a legend under the title, outside the data; a series
// alone in its panel is named by the panel title. Up to 40 points get
// markers. An empty XLabel reads "step"; steps that are all whole numbers
// get integer ticks.
func TrainingCurves(title string, panels []Panel, cols int, f Format, opts ...Option) ([]byte, error) {
	fig, err := panelGrid(title, panels, cols, curveRowHeight)
	if err != nil {
		return nil, err
	}
	return fig.render(f, opts)
}

// panelGrid validates panels and lays them out cols per row.
func panelGrid(title string, panels []Panel, cols int, rowH vg.Length) (*figure, error) {
	if len(panels) == 0 {
		return nil, errors.New("plotting: no panels to draw")
	}
	if cols <= 0 {
		cols = 3
	}
	cols = min(cols, len(panels))

	// Series names that share a panel with another series get their own
	// colour (the same in every panel, in order of first appearance) and a
	// legend entry; a series alone in its panel, named by the panel title,
	// is drawn in the first colour unless its name has a colour already.
	colour := map[string]int{}
	var names []string
	for i, pn := range panels {
		if len(pn.Series) == 0 {
			return nil, fmt.Errorf("plotting: panel %d (%q) has no series", i, pn.Title)
		}
		for j, s := range pn.Series {
			what := fmt.Sprintf("panel %q series %d (%q)", pn.Title, j, s.Name)
			if len(s.X) == 0 {
				return nil, fmt.Errorf("plotting: %s is empty", what)
			}
			if err := checkLen(what+" Y", len(s.Y), "X", len(s.X)); err != nil {
				return nil, err
			}
			if err := checkFinite(what+" X", s.X); err != nil {
				return nil, err
			}
			if err := checkFinite(what+" Y", s.Y); err != nil {
				return nil, err
			}
			if _, ok := colour[s.Name]; !ok && len(pn.Series) > 1 {
				colour[s.Name] = len(names)
				names = append(names, s.Name)
			}
		}
	}

	for i, slot := range styleSlots(names) {
		colour[names[i]] = slot
	}
	fig := &figure{title: title, padX: 0.25 * vg.Inch, padY: 0.12 * vg.Inch}
	thumbs := map[int]lineThumb{}
	for i, pn := range panels {
		if i%cols == 0 {
			fig.cells = append(fig.cells, make([]*plot.Plot, cols))
			fig.rowHeights = append(fig.rowHeights, rowH)
		}
		xl := pn.XLabel
		if xl == "" {
			xl = "step"
		}
		p := newPlot(pn.Title, xl, pn.YLabel)
		ints := true
		for _, s := range pn.Series {
			ci, named := colour[s.Name]
			th := addSeries(p, ci, s.X, s.Y)
			if named {
				thumbs[ci] = th
			}
			ints = ints && allIntegers(s.X)
		}
		if ints {
			p.X.Tick.Marker = intTicks{n: 6}
		}
		fig.cells[i/cols][i%cols] = p
	}
	for _, n := range names {
		fig.legend = append(fig.legend, legendEntry{label: label(n, 40, false), thumb: thumbs[colour[n]]})
	}
	return fig, nil
}

// EpochLosses are the SFT losses per epoch. Best is the epoch (a value of
// Epoch, not an index) to mark, normally the one with the lowest held-out
// loss; a negative Best marks the epoch with the lowest held-out loss.
type EpochLosses struct {
	Epoch          []int
	Train, HeldOut []float64
	Best           int
}

// OverfittingCurve draws the SFT train and held-out loss per epoch with the
// best epoch marked by a dashed vertical line and a ring on the held-out
// curve; the legend (under the title) gives the best epoch and its held-out
// loss. Epochs must be strictly increasing.
func OverfittingCurve(title string, l EpochLosses, f Format, opts ...Option) ([]byte, error) {
	n := len(l.Epoch)
	if n == 0 {
		return nil, errors.New("plotting: overfitting curve: no epochs")
	}
	if err := checkLen("overfitting curve: Train", len(l.Train), "Epoch", n); err != nil {
		return nil, err
	}
	if err := checkLen("overfitting curve: HeldOut", len(l.HeldOut), "Epoch", n); err != nil {
		return nil, err
	}
	if err := checkFinite("overfitting curve: Train", l.Train); err != nil {
		return nil, err
	}
	if err := checkFinite("overfitting curve: HeldOut", l.HeldOut); err != nil {
		return nil, err
	}
	for i := 1; i < n; i++ {
		if l.Epoch[i] <= l.Epoch[i-1] {
			return nil, fmt.Errorf("plotting: overfitting curve: Epoch must increase, but Epoch[%d] = %d follows %d", i, l.Epoch[i], l.Epoch[i-1])
		}
	}
	best := -1
	if l.Best < 0 {
		best = 0
		for i, v := range l.HeldOut {
			if v < l.HeldOut[best] {
				best = i
			}
		}
	} else {
		best = slices.Index(l.Epoch, l.Best)
		if best < 0 {
			return nil, fmt.Errorf("plotting: overfitting curve: best epoch %d is not in Epoch %v", l.Best, l.Epoch)
		}
	}

	x := make([]float64, n)
	for i, e := range l.Epoch {
		x[i] = float64(e)
	}
	p := newPlot("", "epoch", "loss (nats/token)")
	p.X.Tick.Marker = intTicks{n: 12}
	bestStyle := draw.LineStyle{Color: neutralColor, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}
	p.Add(vline{x: x[best], style: bestStyle})
	train := addSeries(p, 0, x, l.Train)
	held := addSeries(p, 1, x, l.HeldOut)
	ring := draw.GlyphStyle{Color: neutralColor, Radius: vg.Points(6), Shape: draw.RingGlyph{}}
	p.Add(glyphAt{x: x[best], y: l.HeldOut[best], style: ring})
	if n == 1 {
		p.X.Min, p.X.Max = x[0]-1, x[0]+1
	}

	fig := &figure{
		title:      title,
		cells:      [][]*plot.Plot{{p}},
		rowHeights: []vg.Length{3.8 * vg.Inch},
		legend: []legendEntry{
			{"train", train},
			{"held-out", held},
			{fmt.Sprintf("best epoch %d (held-out %.4g)", l.Epoch[best], l.HeldOut[best]),
				lineThumb{line: bestStyle, glyph: ring}},
		},
	}
	return fig.render(f, opts)
}

// glyphAt draws one marker at a data point.
type glyphAt struct {
	x, y  float64
	style draw.GlyphStyle
}

func (g glyphAt) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	c.DrawGlyph(g.style, vg.Point{X: tx(g.x), Y: ty(g.y)})
}

func (g glyphAt) GlyphBoxes(p *plot.Plot) []plot.GlyphBox {
	return []plot.GlyphBox{{X: p.X.Norm(g.x), Y: p.Y.Norm(g.y), Rectangle: g.style.Rectangle()}}
}

// Dashboard holds per-iteration PPO metrics: Metrics[name][i] is the value
// at Iteration[i]. Known names (see PPODashboard) get a fixed place, a title
// and a unit.
type Dashboard struct {
	Iteration []float64
	Metrics   map[string][]float64
}

// dashboardMetrics are the known metric names in panel order.
var dashboardMetrics = []struct{ key, title, unit string }{
	{"reward", "reward ΣΔ", "nats / response"},
	{"kl", "KL to ref", "nats"},
	{"length", "length", "tokens"},
	{"eos_pct", "EOS", "% of responses"},
	{"truncated_pct", "truncated", "% of responses"},
	{"entropy", "entropy", "nats / token"},
	{"clip_frac", "clip fraction", "fraction of tokens"},
	{"approx_kl", "approx-KL", "nats"},
	{"value_loss", "value loss", "squared error"},
	{"explained_var", "explained var.", "1 = perfect critic"},
}

// PPODashboard draws the panels a researcher checks every PPO iteration in
// one image, one metric per panel against iteration, with the last value in
// each panel title. Known metrics come first in a fixed order: reward, kl,
// length, eos_pct, truncated_pct, entropy, clip_frac, approx_kl, value_loss,
// explained_var; other names follow in alphabetical order. Metrics that are
// absent are skipped; it is an error when none is present, or when a metric
// does not have one finite value per iteration.
func PPODashboard(title string, d Dashboard, f Format, opts ...Option) ([]byte, error) {
	if len(d.Iteration) == 0 {
		return nil, errors.New("plotting: dashboard: no iterations")
	}
	if err := checkFinite("dashboard: Iteration", d.Iteration); err != nil {
		return nil, err
	}
	known := map[string]bool{}
	var panels []Panel
	add := func(key, title, unit string) error {
		v, ok := d.Metrics[key]
		if !ok {
			return nil
		}
		if err := checkLen(fmt.Sprintf("dashboard: metric %q", key), len(v), "Iteration", len(d.Iteration)); err != nil {
			return err
		}
		if err := checkFinite(fmt.Sprintf("dashboard: metric %q", key), v); err != nil {
			return err
		}
		panels = append(panels, Panel{
			Title:  fmt.Sprintf("%s (last %s)", title, compactG(v[len(v)-1])),
			XLabel: "PPO iteration",
			YLabel: unit,
			Series: []Series{{Name: key, X: d.Iteration, Y: v}},
		})
		return nil
	}
	for _, m := range dashboardMetrics {
		known[m.key] = true
		if err := add(m.key, m.title, m.unit); err != nil {
			return nil, err
		}
	}
	var extra []string
	for k := range d.Metrics {
		if !known[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		if err := add(k, label(k, 30, false), "value"); err != nil {
			return nil, err
		}
	}
	if len(panels) == 0 {
		return nil, errors.New("plotting: dashboard: no metrics")
	}
	cols := 3
	switch {
	case len(panels) <= 4:
		cols = 2
	case len(panels) > 9:
		cols = 4
	}
	fig, err := panelGrid(title, panels, cols, dashboardRowHeight)
	if err != nil {
		return nil, err
	}
	if cols == 4 {
		fig.padX = 0.18 * vg.Inch
	}
	for _, row := range fig.cells {
		for _, p := range row {
			if p != nil {
				p.Title.TextStyle.Font = fontOf(axisLabelSize, true)
			}
		}
	}
	return fig.render(f, opts)
}

// compactG formats a metric value with 4 significant digits.
func compactG(v float64) string {
	if v != 0 && (math.Abs(v) < 1e-3 || math.Abs(v) >= 1e5) {
		return fmt.Sprintf("%.3g", v)
	}
	return fmt.Sprintf("%.4g", v)
}
