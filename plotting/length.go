package plotting

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// LengthHist is the response lengths (in tokens) sampled at one iteration.
type LengthHist struct {
	Iteration int
	Lengths   []int
}

// LengthRun is one run's length histograms, e.g. the `eos` or the `token`
// reward placement.
type LengthRun struct {
	Name  string
	Hists []LengthHist
}

const histRowHeight = 1.05 * vg.Inch

// LengthHistograms draws response-length histograms as small multiples: one
// column per run (e.g. eos vs token side by side), one row per iteration
// (the union of the runs' iterations, ascending; a run without that
// iteration shows "no samples"). All panels share the x range (length in
// tokens, one bin per token when the range allows) and the y range (percent
// of that iteration's responses), so shapes compare at a glance; a dashed
// line marks each histogram's mean, and the panel title gives mean, sd and
// the number of responses.
func LengthHistograms(runs []LengthRun, f Format, opts ...Option) ([]byte, error) {
	if len(runs) == 0 {
		return nil, errors.New("plotting: length histograms: no runs")
	}
	lo, hi := math.MaxInt, math.MinInt
	var iters []int
	byIter := make([]map[int][]int, len(runs))
	for ri, r := range runs {
		if len(r.Hists) == 0 {
			return nil, fmt.Errorf("plotting: length histograms: run %d (%q) has no iterations", ri, r.Name)
		}
		byIter[ri] = map[int][]int{}
		for hi2, h := range r.Hists {
			what := fmt.Sprintf("length histograms: run %q iteration %d", r.Name, h.Iteration)
			if len(h.Lengths) == 0 {
				return nil, fmt.Errorf("plotting: %s (histogram %d) has no lengths", what, hi2)
			}
			if _, dup := byIter[ri][h.Iteration]; dup {
				return nil, fmt.Errorf("plotting: %s appears twice", what)
			}
			for i, l := range h.Lengths {
				if l < 0 {
					return nil, fmt.Errorf("plotting: %s: negative length %d at index %d", what, l, i)
				}
				lo, hi = min(lo, l), max(hi, l)
			}
			byIter[ri][h.Iteration] = h.Lengths
			if !slices.Contains(iters, h.Iteration) {
				iters = append(iters, h.Iteration)
			}
		}
	}
	slices.Sort(iters)

	// Bins: one per integer length when the range is small, else wider bins
	// that start on a multiple of the width.
	width := max(1, int(math.Ceil(float64(hi-lo+1)/40)))
	start := lo - lo%width
	nb := (hi-start)/width + 1
	binOf := func(l int) int { return (l - start) / width }

	type cell struct {
		pct       []float64
		mean, sd  float64
		n         int
		available bool
	}
	cells := make([][]cell, len(iters))
	yMax := 0.0
	for j, it := range iters {
		cells[j] = make([]cell, len(runs))
		for ri := range runs {
			ls, ok := byIter[ri][it]
			if !ok {
				continue
			}
			c := cell{pct: make([]float64, nb), n: len(ls), available: true}
			for _, l := range ls {
				c.pct[binOf(l)] += 100 / float64(len(ls))
				c.mean += float64(l) / float64(len(ls))
			}
			for _, l := range ls {
				c.sd += (float64(l) - c.mean) * (float64(l) - c.mean) / float64(len(ls))
			}
			c.sd = math.Sqrt(c.sd)
			yMax = max(yMax, slices.Max(c.pct))
			cells[j][ri] = c
		}
	}

	meanStyle := draw.LineStyle{Color: neutralColor, Width: vg.Points(1.1), Dashes: []vg.Length{vg.Points(4), vg.Points(2.5)}}
	fig := &figure{
		title: "Response length per iteration",
		padX:  0.2 * vg.Inch,
		padY:  0.06 * vg.Inch,
	}
	var runNames []string
	for _, r := range runs {
		runNames = append(runNames, r.Name)
	}
	slots := styleSlots(runNames)
	for ri, r := range runs {
		fig.legend = append(fig.legend, legendEntry{label(r.Name, 40, false), boxThumb{withAlpha(seriesColor(slots[ri]), 0.8)}})
	}
	fig.legend = append(fig.legend, legendEntry{"mean", lineThumb{line: meanStyle}})
	xMin, xMax := float64(start)-0.5, float64(start+nb*width)-0.5
	for j, it := range iters {
		row := make([]*plot.Plot, len(runs))
		for ri, r := range runs {
			c := cells[j][ri]
			title := fmt.Sprintf("%s · iter %d", label(r.Name, 24, false), it)
			if c.available {
				title += fmt.Sprintf(": mean %.1f, sd %.1f, n %d", c.mean, c.sd, c.n)
			}
			xl, yl := "", ""
			if j == len(iters)-1 {
				xl = "response length (tokens)"
			}
			if ri == 0 {
				yl = "% of responses"
			}
			p := newPlot(title, xl, yl)
			p.Title.TextStyle.Font = fontOf(tickLabelSize+0.5, true)
			p.Title.Padding = vg.Points(2)
			ticks := intTicks{n: 10}
			if j == len(iters)-1 {
				p.X.Tick.Marker = ticks
			} else {
				p.X.Tick.Marker = unlabelled{ticks}
			}
			if c.available {
				bars := &rects{outline: draw.LineStyle{Color: textOn(false), Width: vg.Points(0.3)}}
				for b, v := range c.pct {
					if v > 0 {
						x0 := float64(start+b*width) - 0.5
						bars.add(x0, x0+float64(width), 0, v, withAlpha(seriesColor(slots[ri]), 0.8))
					}
				}
				p.Add(bars, vline{x: c.mean, style: meanStyle})
			} else {
				p.Add(note{s: "no samples at this iteration", style: textStyle(axisLabelSize, false)})
			}
			p.X.Min, p.X.Max = xMin, xMax
			p.Y.Min, p.Y.Max = 0, yMax*1.05
			row[ri] = p
		}
		fig.cells = append(fig.cells, row)
		fig.rowHeights = append(fig.rowHeights, histRowHeight)
	}
	if len(runs) == 1 {
		fig.width = 6 * vg.Inch
	}
	return fig.render(f, opts)
}

// unlabelled keeps a ticker's tick positions (for grid lines and marks) but
// drops the labels, for panels that share an axis with the panel below.
type unlabelled struct{ plot.Ticker }

func (u unlabelled) Ticks(lo, hi float64) []plot.Tick {
	ts := u.Ticker.Ticks(lo, hi)
	for i := range ts {
		ts[i].Label = ""
	}
	return ts
}

// MeanSD is one run's mean and standard deviation of a quantity (e.g.
// response length) at each X (e.g. iteration).
type MeanSD struct {
	Name        string
	X, Mean, SD []float64
}

// MeanLengthCurves draws, for several runs, the mean of a quantity against
// iteration as a line with a shaded band of ± one standard deviation. It is
// meant for response length (ylabel e.g. "response length (tokens)") but
// works for any mean ± sd series. The legend is drawn under the title.
func MeanLengthCurves(title, ylabel string, runs []MeanSD, f Format, opts ...Option) ([]byte, error) {
	if len(runs) == 0 {
		return nil, errors.New("plotting: mean curves: no runs")
	}
	p := newPlot("", "iteration", ylabel)
	fig := &figure{title: title, cells: [][]*plot.Plot{{p}}, rowHeights: []vg.Length{3.8 * vg.Inch}}
	// Overlapping bands get lighter as there are more of them.
	alpha := 0.2
	if len(runs) > 3 {
		alpha = 0.12
	}
	ints, anySD := true, false
	var curveNames []string
	for _, r := range runs {
		curveNames = append(curveNames, r.Name)
	}
	slots := styleSlots(curveNames)
	for i, r := range runs {
		what := fmt.Sprintf("mean curves: run %d (%q)", i, r.Name)
		if len(r.X) == 0 {
			return nil, fmt.Errorf("plotting: %s is empty", what)
		}
		if err := checkLen(what+" Mean", len(r.Mean), "X", len(r.X)); err != nil {
			return nil, err
		}
		if err := checkLen(what+" SD", len(r.SD), "X", len(r.X)); err != nil {
			return nil, err
		}
		for _, s := range []struct {
			n string
			v []float64
		}{{"X", r.X}, {"Mean", r.Mean}, {"SD", r.SD}} {
			if err := checkFinite(what+" "+s.n, s.v); err != nil {
				return nil, err
			}
		}
		lo, hi := make([]float64, len(r.X)), make([]float64, len(r.X))
		for k := range r.X {
			if r.SD[k] < 0 {
				return nil, fmt.Errorf("plotting: %s SD: negative value %v at index %d", what, r.SD[k], k)
			}
			lo[k], hi[k] = r.Mean[k]-r.SD[k], r.Mean[k]+r.SD[k]
			anySD = anySD || r.SD[k] > 0
		}
		p.Add(band{x: r.X, lo: lo, hi: hi, fill: withAlpha(seriesColor(slots[i]), alpha)})
		th := addSeries(p, slots[i], r.X, r.Mean)
		fig.legend = append(fig.legend, legendEntry{label(r.Name, 40, false), th})
		ints = ints && allIntegers(r.X)
	}
	if ints {
		p.X.Tick.Marker = intTicks{n: 10}
	}
	// The band's legend entry only when some band has a width: with one seed there is no sd.
	if anySD {
		fig.legend = append(fig.legend, legendEntry{"line: mean, band: ± 1 sd", boxThumb{color.Gray{Y: 0xD0}}})
	}
	return fig.render(f, opts)
}

// RewardVsLength draws each response's reward against its length (tokens)
// with the least-squares line; the fitted equation, slope per token, Pearson
// r and n are printed in the legend under the title. A positive slope means
// the reward pays for length. When all lengths are equal the slope is
// undefined and the figure says so instead of drawing a line.
func RewardVsLength(title string, lengths, rewards []float64, f Format, opts ...Option) ([]byte, error) {
	if len(lengths) == 0 {
		return nil, errors.New("plotting: reward vs length: no responses")
	}
	if err := checkLen("reward vs length: rewards", len(rewards), "lengths", len(lengths)); err != nil {
		return nil, err
	}
	if err := checkFinite("reward vs length: lengths", lengths); err != nil {
		return nil, err
	}
	if err := checkFinite("reward vs length: rewards", rewards); err != nil {
		return nil, err
	}
	p := newPlot("", "response length (tokens)", "reward (nats)")
	if allIntegers(lengths) {
		p.X.Tick.Marker = intTicks{n: 10}
	}
	pts := draw.GlyphStyle{Color: withAlpha(seriesColor(0), 0.45), Radius: vg.Points(2.4), Shape: draw.CircleGlyph{}}
	dots := &glyphs{x: lengths, y: rewards, style: pts}
	p.Add(dots)
	fig := &figure{title: title, cells: [][]*plot.Plot{{p}}, rowHeights: []vg.Length{3.8 * vg.Inch}}
	fig.legend = append(fig.legend, legendEntry{fmt.Sprintf("responses (n = %d)", len(lengths)), lineThumb{glyph: pts, noLn: true}})

	slope, icpt, r, err := LinearFit(lengths, rewards)
	if err == nil {
		lo, hi := slices.Min(lengths), slices.Max(lengths)
		fit := draw.LineStyle{Color: seriesColor(1), Width: vg.Points(2)}
		addLine(p, []float64{lo, hi}, []float64{icpt + slope*lo, icpt + slope*hi}, fit)
		fig.legend = append(fig.legend, legendEntry{
			fmt.Sprintf("least squares: slope %s nats/token, intercept %s, r = %.2f",
				compactG(slope), compactG(icpt), r),
			lineThumb{line: fit},
		})
	} else {
		fig.subtitle = "No fit: all responses have the same length, so the slope is undefined."
	}
	if slices.Min(lengths) == slices.Max(lengths) {
		p.X.Min, p.X.Max = lengths[0]-1, lengths[0]+1
	}
	return fig.render(f, opts)
}

// glyphs draws one marker per point (a scatter without plotter.XYs
// copying, and with glyph boxes so markers at the edges are not clipped).
type glyphs struct {
	x, y  []float64
	style draw.GlyphStyle
}

func (g *glyphs) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	for i := range g.x {
		c.DrawGlyph(g.style, vg.Point{X: tx(g.x[i]), Y: ty(g.y[i])})
	}
}

func (g *glyphs) DataRange() (xmin, xmax, ymin, ymax float64) {
	return slices.Min(g.x), slices.Max(g.x), slices.Min(g.y), slices.Max(g.y)
}

func (g *glyphs) GlyphBoxes(p *plot.Plot) []plot.GlyphBox {
	// The extreme points are enough for padding.
	idx := []int{}
	for _, s := range [][]float64{g.x, g.y} {
		idx = append(idx, argOf(s, slices.Min(s)), argOf(s, slices.Max(s)))
	}
	bs := make([]plot.GlyphBox, len(idx))
	for k, i := range idx {
		bs[k] = plot.GlyphBox{X: p.X.Norm(g.x[i]), Y: p.Y.Norm(g.y[i]), Rectangle: g.style.Rectangle()}
	}
	return bs
}

func argOf(s []float64, v float64) int { return slices.Index(s, v) }

// addLine adds a polyline in the given style.
func addLine(p *plot.Plot, x, y []float64, sty draw.LineStyle) {
	p.Add(polyline{x: x, y: y, style: sty})
}

type polyline struct {
	x, y  []float64
	style draw.LineStyle
}

func (l polyline) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	pts := make([]vg.Point, len(l.x))
	for i := range l.x {
		pts[i] = vg.Point{X: tx(l.x[i]), Y: ty(l.y[i])}
	}
	c.StrokeLines(l.style, c.ClipLinesXY(pts)...)
}

// LinearFit returns the ordinary least-squares line y ≈ slope·x + intercept
// and Pearson's correlation r. It needs at least two points, finite values,
// equal lengths and x not all equal; r is 0 when y is constant.
func LinearFit(x, y []float64) (slope, intercept, r float64, err error) {
	if len(x) != len(y) {
		return 0, 0, 0, fmt.Errorf("plotting: linear fit: x has %d values but y has %d", len(x), len(y))
	}
	if len(x) < 2 {
		return 0, 0, 0, fmt.Errorf("plotting: linear fit: need at least 2 points, got %d", len(x))
	}
	if err := checkFinite("linear fit: x", x); err != nil {
		return 0, 0, 0, err
	}
	if err := checkFinite("linear fit: y", y); err != nil {
		return 0, 0, 0, err
	}
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i] / n
		my += y[i] / n
	}
	var sxx, sxy, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	if sxx == 0 {
		return 0, 0, 0, errors.New("plotting: linear fit: all x values are equal, the slope is undefined")
	}
	slope = sxy / sxx
	intercept = my - slope*mx
	if syy > 0 {
		r = sxy / math.Sqrt(sxx*syy)
		r = math.Max(-1, math.Min(1, r))
	}
	return slope, intercept, r, nil
}
