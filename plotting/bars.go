package plotting

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Bar is one cell of a results table: the mean and standard deviation
// (over seeds) of a metric for one method on one group, e.g. Method
// "SRPPO-eos", Group "ood_op".
type Bar struct {
	Method, Group string
	Mean, SD      float64
}

// GroupedBars draws a results table as grouped bars: groups (e.g. eval
// splits) along x in order of first appearance, one bar per method in a
// fixed colour (legend under the title, outside the data), with ±SD error
// bars and the mean written above each bar when it fits. A missing
// method/group pair leaves a gap; a repeated pair is an error. Bars start at
// zero.
func GroupedBars(title, ylabel string, bars []Bar, f Format, opts ...Option) ([]byte, error) {
	if len(bars) == 0 {
		return nil, errors.New("plotting: grouped bars: no bars")
	}
	var methods, groups []string
	mi, gi := map[string]int{}, map[string]int{}
	seen := map[[2]string]bool{}
	lo, hi := 0.0, 0.0
	for i, b := range bars {
		what := fmt.Sprintf("grouped bars: bar %d (%q, %q)", i, b.Method, b.Group)
		if err := checkFinite(what+" Mean/SD", []float64{b.Mean, b.SD}); err != nil {
			return nil, err
		}
		if b.SD < 0 {
			return nil, fmt.Errorf("plotting: %s: negative SD %v", what, b.SD)
		}
		k := [2]string{b.Method, b.Group}
		if seen[k] {
			return nil, fmt.Errorf("plotting: %s: method and group repeated", what)
		}
		seen[k] = true
		if _, ok := mi[b.Method]; !ok {
			mi[b.Method] = len(methods)
			methods = append(methods, b.Method)
		}
		if _, ok := gi[b.Group]; !ok {
			gi[b.Group] = len(groups)
			groups = append(groups, b.Group)
		}
		lo, hi = math.Min(lo, b.Mean-b.SD), math.Max(hi, b.Mean+b.SD)
	}

	p := newBarePlot("", "", ylabel)
	addGrid(p, false, true)
	const groupWidth = 0.8
	bw := groupWidth / float64(len(methods))
	slots := styleSlots(methods)
	rs := &rects{}
	eb := errBars{style: draw.LineStyle{Color: neutralColor, Width: vg.Points(1)}, capW: vg.Points(5)}
	vals := &texts{style: textStyle(7.5, false), dy: vg.Points(2), maxW: bw * 1.1}
	vals.style.YAlign = draw.YBottom
	for _, b := range bars {
		x := float64(gi[b.Group]) - groupWidth/2 + (float64(mi[b.Method])+0.5)*bw
		rs.add(x-bw*0.46, x+bw*0.46, 0, b.Mean, seriesColor(slots[mi[b.Method]]))
		if b.SD > 0 {
			eb.x, eb.lo, eb.hi = append(eb.x, x), append(eb.lo, b.Mean-b.SD), append(eb.hi, b.Mean+b.SD)
		}
		top := math.Max(b.Mean+b.SD, b.Mean)
		if b.Mean < 0 {
			top = 0
		}
		vals.x, vals.y, vals.s = append(vals.x, x), append(vals.y, top), append(vals.s, compact(b.Mean, 2))
	}
	p.Add(rs, eb, vals)
	if lo < 0 {
		p.Add(hline{y: 0, style: draw.LineStyle{Color: neutralColor, Width: vg.Points(0.8)}})
	}
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = label(g, 24, false)
	}
	p.NominalX(names...)
	p.Y.Padding = vg.Points(2) // NominalX pads for the first name; not needed here
	p.X.Tick.Label.Font = fontOf(axisLabelSize, false)
	p.X.Min, p.X.Max = -0.5, float64(len(groups))-0.5
	span := hi - lo
	if span == 0 {
		span = 1
	}
	p.Y.Min, p.Y.Max = lo, hi+0.1*span // room for the value labels
	if lo < 0 {
		p.Y.Min = lo - 0.05*span
	}
	// Rotate group names that would overlap.
	o := resolve(opts)
	w := o.size.W
	if w == 0 {
		w = defaultWidth
	}
	slot := (w - 1.3*vg.Inch) / vg.Length(len(groups))
	for _, n := range names {
		if p.X.Tick.Label.Width(n) > slot-vg.Points(4) {
			p.X.Tick.Label.Rotation = math.Pi / 6
			p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
			break
		}
	}

	fig := &figure{title: title, cells: [][]*plot.Plot{{p}}, rowHeights: []vg.Length{3.6 * vg.Inch}}
	for i, m := range methods {
		fig.legend = append(fig.legend, legendEntry{label(m, 40, false), boxThumb{seriesColor(slots[i])}})
	}
	fig.legend = append(fig.legend, legendEntry{"± 1 sd over seeds", errThumb{eb.style}})
	return fig.render(f, opts)
}

// errThumb is a legend sample: a vertical error bar with caps.
type errThumb struct{ style draw.LineStyle }

func (t errThumb) Thumbnail(c *draw.Canvas) {
	x, capW := c.Center().X, vg.Points(5)
	c.StrokeLine2(t.style, x, c.Min.Y, x, c.Max.Y)
	c.StrokeLine2(t.style, x-capW/2, c.Min.Y, x+capW/2, c.Min.Y)
	c.StrokeLine2(t.style, x-capW/2, c.Max.Y, x+capW/2, c.Max.Y)
}
