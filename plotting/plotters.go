package plotting

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// rects draws axis-aligned rectangles given in data coordinates: bars,
// histogram bins. It is a plot.Plotter and a plot.DataRanger.
type rects struct {
	x0, x1, y0, y1 []float64
	fill           []color.Color
	outline        draw.LineStyle // zero Width: no outline
}

func (r *rects) add(x0, x1, y0, y1 float64, fill color.Color) {
	r.x0, r.x1 = append(r.x0, x0), append(r.x1, x1)
	r.y0, r.y1 = append(r.y0, y0), append(r.y1, y1)
	r.fill = append(r.fill, fill)
}

func (r *rects) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	for i := range r.x0 {
		pts := []vg.Point{
			{X: tx(r.x0[i]), Y: ty(r.y0[i])},
			{X: tx(r.x1[i]), Y: ty(r.y0[i])},
			{X: tx(r.x1[i]), Y: ty(r.y1[i])},
			{X: tx(r.x0[i]), Y: ty(r.y1[i])},
		}
		c.FillPolygon(r.fill[i], c.ClipPolygonXY(pts))
		if r.outline.Width > 0 {
			c.StrokeLines(r.outline, c.ClipLinesXY(append(pts, pts[0]))...)
		}
	}
}

func (r *rects) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	for i := range r.x0 {
		xmin = math.Min(xmin, math.Min(r.x0[i], r.x1[i]))
		xmax = math.Max(xmax, math.Max(r.x0[i], r.x1[i]))
		ymin = math.Min(ymin, math.Min(r.y0[i], r.y1[i]))
		ymax = math.Max(ymax, math.Max(r.y0[i], r.y1[i]))
	}
	return xmin, xmax, ymin, ymax
}

// hline draws a horizontal line across the data area at y.
type hline struct {
	y     float64
	style draw.LineStyle
}

func (h hline) Plot(c draw.Canvas, p *plot.Plot) {
	_, ty := p.Transforms(&c)
	y := ty(h.y)
	if y >= c.Min.Y-0.01 && y <= c.Max.Y+0.01 {
		c.StrokeLine2(h.style, c.Min.X, y, c.Max.X, y)
	}
}

// vline draws a vertical line across the data area at x.
type vline struct {
	x     float64
	style draw.LineStyle
}

func (v vline) Plot(c draw.Canvas, p *plot.Plot) {
	tx, _ := p.Transforms(&c)
	x := tx(v.x)
	if x >= c.Min.X-0.01 && x <= c.Max.X+0.01 {
		c.StrokeLine2(v.style, x, c.Min.Y, x, c.Max.Y)
	}
}

// texts draws short strings at data positions. A string is drawn only when
// it is narrower than maxW data units (when maxW > 0), so annotations are
// dropped rather than overlapping when the figure is too narrow.
type texts struct {
	x, y  []float64
	s     []string
	color []color.Color // optional, per string
	style text.Style
	dy    vg.Length // vertical offset in points
	maxW  float64
}

func (t *texts) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	for i := range t.s {
		if t.maxW > 0 {
			w := tx(t.x[i]+t.maxW/2) - tx(t.x[i]-t.maxW/2)
			if t.style.Width(t.s[i]) > w {
				continue
			}
		}
		sty := t.style
		if t.color != nil && t.color[i] != nil {
			sty.Color = t.color[i]
		}
		c.FillText(sty, vg.Point{X: tx(t.x[i]), Y: ty(t.y[i]) + t.dy}, t.s[i])
	}
}

// band fills the area between lo and hi along x (mean ± sd).
type band struct {
	x, lo, hi []float64
	fill      color.Color
}

func (b band) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	pts := make([]vg.Point, 0, 2*len(b.x))
	for i := range b.x {
		pts = append(pts, vg.Point{X: tx(b.x[i]), Y: ty(b.hi[i])})
	}
	for i := len(b.x) - 1; i >= 0; i-- {
		pts = append(pts, vg.Point{X: tx(b.x[i]), Y: ty(b.lo[i])})
	}
	if len(pts) >= 3 {
		c.FillPolygon(b.fill, c.ClipPolygonXY(pts))
	}
}

func (b band) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	for i := range b.x {
		xmin, xmax = math.Min(xmin, b.x[i]), math.Max(xmax, b.x[i])
		ymin, ymax = math.Min(ymin, b.lo[i]), math.Max(ymax, b.hi[i])
	}
	return xmin, xmax, ymin, ymax
}

// errBars draws vertical error bars with caps from lo to hi at x.
type errBars struct {
	x, lo, hi []float64
	style     draw.LineStyle
	capW      vg.Length
}

func (e errBars) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	for i := range e.x {
		x, lo, hi := tx(e.x[i]), ty(e.lo[i]), ty(e.hi[i])
		c.StrokeLine2(e.style, x, lo, x, hi)
		c.StrokeLine2(e.style, x-e.capW/2, lo, x+e.capW/2, lo)
		c.StrokeLine2(e.style, x-e.capW/2, hi, x+e.capW/2, hi)
	}
}

func (e errBars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	for i := range e.x {
		xmin, xmax = math.Min(xmin, e.x[i]), math.Max(xmax, e.x[i])
		ymin, ymax = math.Min(ymin, e.lo[i]), math.Max(ymax, e.hi[i])
	}
	return xmin, xmax, ymin, ymax
}

// note draws a line of text in a corner of the data area (used for "no
// data" cells).
type note struct {
	s     string
	style text.Style
}

func (n note) Plot(c draw.Canvas, _ *plot.Plot) {
	sty := n.style
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	c.FillText(sty, c.Center(), n.s)
}
