package plotting

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Figures of the mechanism sweep (design §6b): a heat map of a 2-D grid
// (e.g. β × chat exposure, cells the EM gain over SFT in points) and a
// scatter with error bars in x and y (e.g. pairwise accuracy against the
// gain, one series per factor, "chance" at 0.5).

// HeatGrid is a 2-D grid of values: Values[y][x] is the cell in column x
// (XTicks[x]) and row y (YTicks[y]), rows counted from the bottom. SD, when
// not nil, has the same shape and is written under each value. A NaN value
// means "no value" (a grey cell); a NaN SD shows no sd. Unit (e.g. "pts")
// names the values' unit in the colour scale.
type HeatGrid struct {
	XTicks, YTicks []string
	Values         [][]float64
	SD             [][]float64
	Unit           string
}

// missingColor fills heat map cells without a value.
var missingColor = color.NRGBA{0xC8, 0xC8, 0xC8, 0xFF}

// Heat map cell heights: about 0.6 of the cell width, within these bounds.
const (
	heatMinCellH = 0.42 * vg.Inch
	heatMaxCellH = 0.8 * vg.Inch
)

// HeatMap draws a 2-D grid of values as coloured cells: columns are the
// XTicks, rows the YTicks (row 0 at the bottom). Colours follow a diverging
// scale centred at 0 and symmetric, ±max|value| over the grid: white at 0,
// blue for positive and vermillion for negative values (the package's sign
// colours), full strength at ±max. Each cell shows its value with a sign
// ("+3.2", "−1.0") and, when SD is given, "±1.1" on a second line, in black
// or white, whichever reads better on the cell. Cells whose value is NaN are
// grey and show "–". The colour scale is stated under the title ("colour:
// −M … +M pts") with swatches at −M, −M/2, 0, +M/2 and +M. A grid of zeros
// draws white cells. Empty or ragged grids, tick counts that do not match
// the grid, an SD of another shape, infinite values and negative SDs are
// errors. WithTitle replaces title.
func HeatMap(title, xlabel, ylabel string, grid HeatGrid, f Format, opts ...Option) ([]byte, error) {
	maxAbs, hasNaN, err := grid.check()
	if err != nil {
		return nil, err
	}
	ny, nx := len(grid.Values), len(grid.Values[0])
	digits := heatDigits(maxAbs)

	p := newBarePlot("", xlabel, ylabel)
	p.Add(&gridCells{values: grid.Values, sd: grid.SD, maxAbs: maxAbs, digits: digits})
	xn, yn := make([]string, nx), make([]string, ny)
	for i, t := range grid.XTicks {
		xn[i] = label(t, 24, false)
	}
	for i, t := range grid.YTicks {
		yn[i] = label(t, 24, false)
	}
	p.NominalX(xn...)
	p.NominalY(yn...)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Tick.Label.Font = fontOf(axisLabelSize, false)
		a.Padding = vg.Points(3)
	}
	p.X.Min, p.X.Max = -0.5, float64(nx)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(ny)-0.5

	// Width: narrower for few columns, so cells are not long stripes.
	fig := &figure{title: title}
	if nx <= 3 {
		fig.width = 6.5 * vg.Inch
	}
	o := resolve(opts)
	if o.title != "" {
		fig.title = o.title
	}
	w := o.size.W
	if w == 0 {
		w = orLength(fig.width, defaultWidth)
	}
	var yTickW vg.Length
	for _, n := range yn {
		yTickW = max(yTickW, p.Y.Tick.Label.Width(n))
	}
	slotW := (w - 2*margin - yTickW - 0.4*vg.Inch) / vg.Length(nx)
	for _, n := range xn {
		if p.X.Tick.Label.Width(n) > slotW-vg.Points(4) {
			p.X.Tick.Label.Rotation = math.Pi / 6
			p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
			// A rotated label reaches left of its column by cos 30° of its
			// width: cut the labels so the first one stays in the figure.
			maxW := (slotW/2 + yTickW + margin + vg.Points(12)) / vg.Length(math.Cos(math.Pi/6))
			for i := range xn {
				xn[i] = fitText(p.X.Tick.Label, xn[i], maxW)
			}
			p.NominalX(xn...)
			break
		}
	}
	cellH := min(max(0.6*slotW, heatMinCellH), heatMaxCellH)
	fig.cells = [][]*plot.Plot{{p}}
	fig.rowHeights = []vg.Length{cellH * vg.Length(ny)}

	unit := ""
	if grid.Unit != "" {
		unit = " " + cleanText(grid.Unit)
	}
	var notes []string
	switch {
	case maxAbs > 0:
		notes = append(notes, fmt.Sprintf("colour: %s … %s%s, white at 0", signedText(-maxAbs, digits), signedText(maxAbs, digits), unit))
		for _, k := range []float64{-1, -0.5, 0, 0.5, 1} {
			s := signedText(k*maxAbs, digits)
			if k == 0 {
				s = "0"
			}
			if k == 1 {
				s += unit
			}
			fig.legend = append(fig.legend, legendEntry{s, cellThumb{diverging(k*maxAbs, maxAbs)}})
		}
	case hasNaN && allNaN(grid.Values):
		notes = append(notes, "no values (–)")
	default:
		notes = append(notes, "colour: all values are 0"+unit)
	}
	if grid.SD != nil {
		notes = append(notes, "second line: ± sd")
	}
	if hasNaN {
		if maxAbs > 0 || !allNaN(grid.Values) {
			notes = append(notes, "–: no value")
		}
		fig.legend = append(fig.legend, legendEntry{"no value", cellThumb{missingColor}})
	}
	fig.subtitle = strings.Join(notes, "; ")
	return fig.render(f, opts)
}

// orLength returns a, or b when a is zero.
func orLength(a, b vg.Length) vg.Length {
	if a != 0 {
		return a
	}
	return b
}

// check validates g and returns max |value| over its finite values and
// whether some value is NaN.
func (g HeatGrid) check() (maxAbs float64, hasNaN bool, err error) {
	ny := len(g.Values)
	if ny == 0 || len(g.Values[0]) == 0 {
		return 0, false, errors.New("plotting: heat map: empty grid (Values has no rows or row 0 has no values)")
	}
	nx := len(g.Values[0])
	for y, row := range g.Values {
		if len(row) != nx {
			return 0, false, fmt.Errorf("plotting: heat map: ragged grid: Values row %d has %d values but row 0 has %d", y, len(row), nx)
		}
	}
	if err := checkLen("heat map: YTicks", len(g.YTicks), "Values (rows)", ny); err != nil {
		return 0, false, err
	}
	if err := checkLen("heat map: XTicks", len(g.XTicks), "each row of Values", nx); err != nil {
		return 0, false, err
	}
	if g.SD != nil {
		if len(g.SD) != ny {
			return 0, false, fmt.Errorf("plotting: heat map: SD has %d rows but Values has %d (must be the same shape)", len(g.SD), ny)
		}
		for y, row := range g.SD {
			if len(row) != nx {
				return 0, false, fmt.Errorf("plotting: heat map: SD row %d has %d values but Values rows have %d (must be the same shape)", y, len(row), nx)
			}
		}
	}
	cell := func(y, x int) string {
		return fmt.Sprintf("heat map: cell (x %d %q, y %d %q)", x, g.XTicks[x], y, g.YTicks[y])
	}
	for y, row := range g.Values {
		for x, v := range row {
			switch {
			case math.IsInf(v, 0):
				return 0, false, fmt.Errorf("plotting: %s: value %v (values must be finite, or NaN for no value)", cell(y, x), v)
			case math.IsNaN(v):
				hasNaN = true
			default:
				maxAbs = math.Max(maxAbs, math.Abs(v))
			}
			if g.SD == nil {
				continue
			}
			switch sd := g.SD[y][x]; {
			case math.IsInf(sd, 0):
				return 0, false, fmt.Errorf("plotting: %s: SD %v (must be finite, or NaN for none)", cell(y, x), sd)
			case sd < 0:
				return 0, false, fmt.Errorf("plotting: %s: negative SD %v", cell(y, x), sd)
			}
		}
	}
	return maxAbs, hasNaN, nil
}

func allNaN(vs [][]float64) bool {
	for _, row := range vs {
		for _, v := range row {
			if !math.IsNaN(v) {
				return false
			}
		}
	}
	return true
}

// heatDigits is the number of decimals of the cell values: one for values
// of order 1–100 ("+3.2"), more for small values, none from 100.
func heatDigits(maxAbs float64) int {
	switch {
	case maxAbs >= 100:
		return 0
	case maxAbs >= 1 || maxAbs == 0:
		return 1
	case maxAbs >= 0.1:
		return 2
	}
	return 3
}

// signedText formats v with digits decimals and an explicit sign ("+3.2",
// "−3.2" with a minus sign); a value that rounds to zero has no sign.
func signedText(v float64, digits int) string {
	s := strconv.FormatFloat(math.Abs(v), 'f', digits, 64)
	switch {
	case strings.Trim(s, "0.") == "":
		return s
	case v < 0:
		return "−" + s
	}
	return "+" + s
}

// sdText formats a standard deviation as "±1.1".
func sdText(sd float64, digits int) string {
	return "±" + strconv.FormatFloat(sd, 'f', digits, 64)
}

// gridCells draws values[y][x] as cells at (x, y) on a diverging scale,
// with the value (and the sd) written in each cell.
type gridCells struct {
	values, sd [][]float64
	maxAbs     float64
	digits     int
}

func (g *gridCells) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	sep := draw.LineStyle{Color: gridColor, Width: vg.Points(0.75)}
	cellW, cellH := tx(1)-tx(0), ty(1)-ty(0)
	valSty, sdSty, showSD, ok := g.textStyles(cellW, cellH)
	for y, row := range g.values {
		y0, y1 := ty(float64(y)-0.5), ty(float64(y)+0.5)
		for x, v := range row {
			x0, x1 := tx(float64(x)-0.5), tx(float64(x)+0.5)
			fill := missingColor
			if !math.IsNaN(v) {
				fill = diverging(v, g.maxAbs)
			}
			pts := []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
			c.FillPolygon(fill, pts)
			c.StrokeLines(sep, append(pts, pts[0]))
			if !ok {
				continue
			}
			ink := textOn(isDark(fill))
			xc, yc := (x0+x1)/2, (y0+y1)/2
			if math.IsNaN(v) {
				valSty.Color = ink
				c.FillText(valSty, vg.Point{X: xc, Y: yc}, "–")
				continue
			}
			vs := signedText(v, g.digits)
			if !showSD || math.IsNaN(g.sd[y][x]) {
				valSty.Color = ink
				c.FillText(valSty, vg.Point{X: xc, Y: yc}, vs)
				continue
			}
			hv, hs := valSty.Height("0"), sdSty.Height("0")
			top := yc + (hv+hs)/2
			valSty.Color, sdSty.Color = ink, ink
			c.FillText(valSty, vg.Point{X: xc, Y: top - hv/2}, vs)
			c.FillText(sdSty, vg.Point{X: xc, Y: top - hv - hs/2}, sdText(g.sd[y][x], g.digits))
		}
	}
}

// textStyles picks one font size for every cell: the largest at which
// every value (and sd, on a second line) fits its cell. showSD is false when
// only the values fit, ok false when not even they do.
func (g *gridCells) textStyles(cellW, cellH vg.Length) (val, sd text.Style, showSD, ok bool) {
	// Widths scale with the font size: find the widest strings at one size.
	ref := textStyle(10, false)
	var widest, widestSD string
	wider := func(s, than string) bool { return than == "" || ref.Width(s) > ref.Width(than) }
	for y, row := range g.values {
		for x, v := range row {
			s := "–"
			if !math.IsNaN(v) {
				s = signedText(v, g.digits)
			}
			if wider(s, widest) {
				widest = s
			}
			if g.sd != nil && !math.IsNaN(g.sd[y][x]) {
				if s := sdText(g.sd[y][x], g.digits); wider(s, widestSD) {
					widestSD = s
				}
			}
		}
	}
	room := cellW - vg.Points(4)
	for _, withSD := range []bool{widestSD != "", false} {
		for _, size := range []vg.Length{10.5, 9, 7.5, 6.5} {
			val, sd = textStyle(size, false), textStyle(size*0.85, false)
			val.XAlign, val.YAlign = draw.XCenter, draw.YCenter
			sd.XAlign, sd.YAlign = draw.XCenter, draw.YCenter
			h := val.Height("0")
			if withSD {
				h += sd.Height("0")
			}
			if val.Width(widest) <= room && (!withSD || sd.Width(widestSD) <= room) && h <= cellH-vg.Points(2) {
				return val, sd, withSD, true
			}
		}
	}
	return val, sd, false, false
}

// cellThumb is a legend sample of a heat map colour: a filled box with a
// light outline (so the white of 0 shows).
type cellThumb struct{ fill color.Color }

func (t cellThumb) Thumbnail(c *draw.Canvas) {
	h := c.Max.Y - c.Min.Y
	x := c.Center().X
	pts := []vg.Point{{X: x - h, Y: c.Min.Y}, {X: x + h, Y: c.Min.Y}, {X: x + h, Y: c.Max.Y}, {X: x - h, Y: c.Max.Y}}
	c.FillPolygon(t.fill, pts)
	c.StrokeLines(draw.LineStyle{Color: color.Gray{Y: 0xA0}, Width: vg.Points(0.5)}, append(pts, pts[0]))
}

// ErrPoint is one point with its error bars: ±XErr horizontally and ±YErr
// vertically (0: no bar), and an optional label written next to it.
type ErrPoint struct {
	X, Y, XErr, YErr float64
	Label            string
}

// ErrSeries is a named set of points drawn in one colour and marker.
type ErrSeries struct {
	Name   string
	Points []ErrPoint
}

// ScatterErrors draws points with horizontal (±XErr) and vertical (±YErr)
// error bars, each series in its own colour and marker (a method keeps its
// style slot as in the other figures), each point's Label written to its
// right, and a legend under the title when there is more than one series.
// WithHLine adds dashed grey reference lines with their label (e.g. y = 0.5,
// "chance"). Series without points, NaN or infinite coordinates or errors,
// and negative errors are errors naming the series and the point.
// WithTitle replaces title.
func ScatterErrors(title, xlabel, ylabel string, series []ErrSeries, f Format, opts ...Option) ([]byte, error) {
	if len(series) == 0 {
		return nil, errors.New("plotting: scatter with errors: no series")
	}
	o := resolve(opts)
	for i, h := range o.hlines {
		if math.IsNaN(h.Y) || math.IsInf(h.Y, 0) {
			return nil, fmt.Errorf("plotting: scatter with errors: reference line %d (%q): Y %v is not finite", i, h.Label, h.Y)
		}
	}
	names := make([]string, len(series))
	for si, s := range series {
		names[si] = s.Name
		if len(s.Points) == 0 {
			return nil, fmt.Errorf("plotting: scatter with errors: series %d (%q) has no points", si, s.Name)
		}
		for pi, pt := range s.Points {
			what := fmt.Sprintf("scatter with errors: series %d (%q) point %d", si, s.Name, pi)
			if pt.Label != "" {
				what += fmt.Sprintf(" (%q)", pt.Label)
			}
			for _, fv := range []struct {
				name string
				v    float64
			}{{"X", pt.X}, {"Y", pt.Y}, {"XErr", pt.XErr}, {"YErr", pt.YErr}} {
				if math.IsNaN(fv.v) || math.IsInf(fv.v, 0) {
					return nil, fmt.Errorf("plotting: %s: %s is %v (must be finite)", what, fv.name, fv.v)
				}
			}
			if pt.XErr < 0 || pt.YErr < 0 {
				return nil, fmt.Errorf("plotting: %s: negative error (XErr %v, YErr %v)", what, pt.XErr, pt.YErr)
			}
		}
	}

	p := newPlot("", xlabel, ylabel)
	refSty := draw.LineStyle{Color: color.Gray{Y: 0x80}, Width: vg.Points(1.1), Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}
	for _, h := range o.hlines {
		ts := textStyle(tickLabelSize, false)
		ts.Color = color.Gray{Y: 0x50}
		ts.XAlign, ts.YAlign = draw.XRight, draw.YBottom
		p.Add(refLine{y: h.Y, label: label(h.Label, 40, false), style: refSty, text: ts, noLabel: h.Label == ""})
	}
	fig := &figure{title: title, cells: [][]*plot.Plot{{p}}, rowHeights: []vg.Length{3.8 * vg.Inch}}
	if o.title != "" {
		fig.title = o.title
	}
	slots := styleSlots(names)
	for si, s := range series {
		_, gs := seriesLine(slots[si])
		gs.Radius = vg.Points(3.2)
		n := len(s.Points)
		eb := &errCross{
			x: make([]float64, n), y: make([]float64, n), xerr: make([]float64, n), yerr: make([]float64, n),
			style: draw.LineStyle{Color: withAlpha(seriesColor(slots[si]), 0.85), Width: vg.Points(1.1)},
			capW:  vg.Points(5),
		}
		// Labels above right of the point, clear of both error bars.
		ls := &pointLabels{style: textStyle(tickLabelSize, false), dx: gs.Radius + vg.Points(1), dy: vg.Points(1.5)}
		ls.style.XAlign, ls.style.YAlign = draw.XLeft, draw.YBottom
		for k, pt := range s.Points {
			eb.x[k], eb.y[k], eb.xerr[k], eb.yerr[k] = pt.X, pt.Y, pt.XErr, pt.YErr
			if pt.Label != "" {
				ls.x, ls.y, ls.s = append(ls.x, pt.X), append(ls.y, pt.Y), append(ls.s, label(pt.Label, 30, false))
			}
		}
		p.Add(eb, &glyphs{x: eb.x, y: eb.y, style: gs}, ls)
		if len(series) > 1 {
			fig.legend = append(fig.legend, legendEntry{label(s.Name, 40, false), lineThumb{glyph: gs, noLn: true}})
		}
	}
	// Keep error bar caps and markers off the axes.
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		if span := a.Max - a.Min; span > 0 {
			a.Min, a.Max = a.Min-0.03*span, a.Max+0.03*span
		}
	}
	return fig.render(f, opts)
}

// errCross draws error bars with caps: vertical from y−yerr to y+yerr and
// horizontal from x−xerr to x+xerr (none where the error is 0).
type errCross struct {
	x, y, xerr, yerr []float64
	style            draw.LineStyle
	capW             vg.Length
}

func (e *errCross) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	hc := e.capW / 2
	for i := range e.x {
		x, y := tx(e.x[i]), ty(e.y[i])
		if e.yerr[i] > 0 {
			lo, hi := ty(e.y[i]-e.yerr[i]), ty(e.y[i]+e.yerr[i])
			c.StrokeLine2(e.style, x, lo, x, hi)
			c.StrokeLine2(e.style, x-hc, lo, x+hc, lo)
			c.StrokeLine2(e.style, x-hc, hi, x+hc, hi)
		}
		if e.xerr[i] > 0 {
			lo, hi := tx(e.x[i]-e.xerr[i]), tx(e.x[i]+e.xerr[i])
			c.StrokeLine2(e.style, lo, y, hi, y)
			c.StrokeLine2(e.style, lo, y-hc, lo, y+hc)
			c.StrokeLine2(e.style, hi, y-hc, hi, y+hc)
		}
	}
}

func (e *errCross) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	for i := range e.x {
		xmin, xmax = math.Min(xmin, e.x[i]-e.xerr[i]), math.Max(xmax, e.x[i]+e.xerr[i])
		ymin, ymax = math.Min(ymin, e.y[i]-e.yerr[i]), math.Max(ymax, e.y[i]+e.yerr[i])
	}
	return xmin, xmax, ymin, ymax
}

// pointLabels writes a string dx to the right of and dy above each point;
// its glyph boxes make the axes leave room for the text.
type pointLabels struct {
	x, y   []float64
	s      []string
	style  text.Style // XLeft, YBottom
	dx, dy vg.Length
}

func (l *pointLabels) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	for i, s := range l.s {
		c.FillText(l.style, vg.Point{X: tx(l.x[i]) + l.dx, Y: ty(l.y[i]) + l.dy}, s)
	}
}

func (l *pointLabels) GlyphBoxes(p *plot.Plot) []plot.GlyphBox {
	bs := make([]plot.GlyphBox, len(l.s))
	for i, s := range l.s {
		w, h := l.style.Width(s), l.style.Height(s)
		bs[i] = plot.GlyphBox{X: p.X.Norm(l.x[i]), Y: p.Y.Norm(l.y[i]), Rectangle: vg.Rectangle{
			Min: vg.Point{X: l.dx, Y: l.dy},
			Max: vg.Point{X: l.dx + w, Y: l.dy + h},
		}}
	}
	return bs
}

// refLine is a horizontal reference line across the data area with its
// label above its right end; its y is part of the data range.
type refLine struct {
	y       float64
	label   string
	noLabel bool
	style   draw.LineStyle
	text    text.Style
}

func (r refLine) Plot(c draw.Canvas, p *plot.Plot) {
	_, ty := p.Transforms(&c)
	y := ty(r.y)
	if y < c.Min.Y-0.01 || y > c.Max.Y+0.01 {
		return
	}
	c.StrokeLine2(r.style, c.Min.X, y, c.Max.X, y)
	if !r.noLabel {
		c.FillText(r.text, vg.Point{X: c.Max.X - vg.Points(3), Y: y + vg.Points(1.5)}, r.label)
	}
}

func (r refLine) DataRange() (xmin, xmax, ymin, ymax float64) {
	return math.Inf(1), math.Inf(-1), r.y, r.y
}
