package plotting

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"

	"github.com/gosrppo/gosrppo/internal/atomicfile"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Format is the encoding of a rendered figure.
type Format string

// The supported formats.
const (
	PNG Format = "png"
	SVG Format = "svg"
)

// DefaultDPI is the resolution of PNG output unless WithDPI says otherwise:
// a 9-inch-wide figure is 900 pixels wide.
const DefaultDPI = 100

// defaultWidth is the width of every figure unless WithSize says otherwise.
const defaultWidth = 9 * vg.Inch

// Size is the size of a figure. A zero field means "the figure's default":
// 9 inches wide, and a height that follows the content.
type Size struct{ W, H vg.Length }

// Option changes how a figure is rendered.
type Option func(*options)

type options struct {
	size       Size
	dpi        int
	embedFonts bool
	title      string
	hlines     []RefLine
}

// WithTitle replaces the figure's default title (TokenRewards draws more than Δ_t when its views
// carry other rows, e.g. advantages).
func WithTitle(title string) Option { return func(o *options) { o.title = title } }

// RefLine is a horizontal reference line, e.g. Y 0.5 labelled "chance".
type RefLine struct {
	Y     float64
	Label string
}

// WithHLine adds a dashed grey horizontal reference line at y, with its
// label written above the line's right end (e.g. WithHLine(0.5, "chance")).
// It may be given several times. Only ScatterErrors draws reference lines;
// the other figures ignore them.
func WithHLine(y float64, label string) Option {
	return func(o *options) { o.hlines = append(o.hlines, RefLine{Y: y, Label: label}) }
}

// WithSize overrides the figure size; a zero W or H keeps the default for
// that dimension. The panels shrink or grow to fill the size given.
func WithSize(s Size) Option { return func(o *options) { o.size = s } }

// WithDPI sets the resolution of PNG output (SVG is resolution independent).
func WithDPI(dpi int) Option { return func(o *options) { o.dpi = dpi } }

// WithEmbeddedFonts embeds the fonts in SVG output (about 1 MB more), so
// the SVG looks the same everywhere. Without it the SVG names Liberation Sans
// and the metric-compatible Arimo and Arial, which most systems have; where
// none is installed, text falls back to a wider sans-serif and long labels
// may crowd.
func WithEmbeddedFonts() Option { return func(o *options) { o.embedFonts = true } }

// WriteFile writes data to path atomically: it writes a temporary file in
// the same directory and renames it over path, so a reader never sees a
// partial image.
func WriteFile(path string, data []byte) error {
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("plotting: %w", err)
	}
	return nil
}

// Text sizes shared by every figure.
const (
	figTitleSize   = 15
	subtitleSize   = 10.5
	legendTextSize = 10.5
	panelTitleSize = 11
	axisLabelSize  = 10
	tickLabelSize  = 9
	minTitleSize   = 8.5
)

// fontOf returns the regular (or bold) sans-serif font at size points.
func fontOf(size vg.Length, bold bool) font.Font {
	f := font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
	if bold {
		f.Weight = xfont.WeightBold
	}
	return f
}

// textStyle is a plain-text style at size points.
func textStyle(size vg.Length, bold bool) text.Style {
	return text.Style{
		Color:   color.Black,
		Font:    fontOf(size, bold),
		XAlign:  draw.XCenter,
		YAlign:  draw.YTop,
		Handler: plain,
	}
}

// plain renders text as is (no LaTeX), whatever plot.DefaultTextHandler a
// notebook may have set; the fonts are the Liberation fonts embedded by
// gonum/plot, which include Greek (π, Δ, θ).
var plain text.Handler = text.Plain{Fonts: font.DefaultCache}

// legendEntry is one item of a figure-level legend: a sample of the style
// (line, marker, filled box) and its label.
type legendEntry struct {
	label string
	thumb plot.Thumbnailer
}

// figure is what every exported function builds: a title, an optional
// subtitle and legend strip under it, and a row-major grid of plots. Columns
// are aligned (data areas share left and right edges), and the data area of
// row j is rowHeights[j] tall (scaled to fit when the figure height is
// fixed). Nil cells stay blank.
type figure struct {
	title      string
	subtitle   string
	legend     []legendEntry
	cells      [][]*plot.Plot
	rowHeights []vg.Length // desired height of each row's data area
	padX, padY vg.Length   // space between columns / rows
	gaps       []vg.Length // if set, gaps[j] replaces padY above row j

	// titles holds the plot titles, taken out of the plots so that the
	// figure draws them itself, level across a row whatever each plot's
	// padding (gonum/plot puts a title at the top of the plot's own canvas).
	titles [][]string
	width  vg.Length // default width; 0 means defaultWidth
}

// maxPixels bounds the size of a PNG (4 bytes a pixel while drawing).
const maxPixels = 100e6

// Layout constants of the header and margins.
const (
	margin      = 0.12 * vg.Inch
	headerGap   = 0.06 * vg.Inch
	legendThumb = 0.3 * vg.Inch
)

// render draws fig into a PNG or SVG and returns the bytes. A panic inside
// gonum/plot (which should not happen for validated input) is returned as an
// error, never propagated.
func (fig *figure) render(f Format, opts []Option) (out []byte, err error) {
	if f != PNG && f != SVG {
		return nil, fmt.Errorf("plotting: unknown format %q (want %q or %q)", f, PNG, SVG)
	}
	o := resolve(opts)
	if o.dpi <= 0 || o.dpi > 1200 {
		return nil, fmt.Errorf("plotting: dpi %d out of range (1..1200)", o.dpi)
	}
	if o.size.W < 0 || o.size.H < 0 {
		return nil, fmt.Errorf("plotting: negative size %v x %v", o.size.W, o.size.H)
	}
	if len(fig.cells) == 0 || len(fig.rowHeights) != len(fig.cells) {
		return nil, errors.New("plotting: internal error: figure has no rows")
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("plotting: rendering %q failed: %v", fig.title, r)
		}
	}()
	fig.takeTitles()

	w := o.size.W
	if w == 0 {
		w = fig.width
	}
	if w == 0 {
		w = defaultWidth
	}
	h := o.size.H
	if h == 0 {
		h = fig.naturalHeight(w)
	}
	if w < 2*vg.Inch || h < 1*vg.Inch || w > 100*vg.Inch || h > 200*vg.Inch {
		return nil, fmt.Errorf("plotting: figure size %.1fin x %.1fin out of range (2–100in wide, 1–200in tall): "+
			"draw fewer panels or responses per figure, or set WithSize", w/vg.Inch, h/vg.Inch)
	}

	if px := float64(w/vg.Inch) * float64(h/vg.Inch) * float64(o.dpi*o.dpi); f == PNG && px > maxPixels {
		return nil, fmt.Errorf("plotting: a %.1fin x %.1fin PNG at %d dpi has %.0f megapixels, more than %d: lower the dpi",
			w/vg.Inch, h/vg.Inch, o.dpi, px/1e6, int(maxPixels/1e6))
	}

	var cw interface {
		vg.CanvasSizer
		io.WriterTo
	}
	switch f {
	case PNG:
		cw = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(o.dpi),
			vgimg.UseBackgroundColor(color.White))}
	case SVG:
		c := vgsvg.NewWith(vgsvg.UseWH(w, h), vgsvg.EmbedFonts(o.embedFonts))
		// SVG has a transparent background; notebooks in dark mode would show
		// black text on black, so paint it white as the PNG is.
		dc := draw.New(c)
		dc.SetColor(color.White)
		dc.Fill(dc.Rectangle.Path())
		cw = c
	}
	fig.draw(draw.New(cw))
	var buf bytes.Buffer
	if _, err := cw.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("plotting: encoding %s: %w", f, err)
	}
	if f == SVG {
		// Fonts are not embedded (that would add about 1 MB); name fonts with
		// the same metrics (Arimo, Arial) and a generic family, so text keeps
		// its measured width where Liberation Sans is not installed.
		return bytes.ReplaceAll(buf.Bytes(), []byte("font-family:Liberation Sans;"),
			[]byte("font-family:'Liberation Sans',Arimo,Arial,Helvetica,sans-serif;")), nil
	}
	return buf.Bytes(), nil
}

// header draws (when c is not nil) or measures the title, subtitle and
// legend strip at the top of a canvas of width w; it returns their height.
func (fig *figure) header(c *draw.Canvas, w vg.Length) vg.Length {
	y := margin // distance from the top
	avail := w - 2*margin
	if fig.title != "" {
		sty := textStyle(figTitleSize, true)
		t := fitText(sty, cleanText(fig.title), avail)
		if c != nil {
			c.FillText(sty, vg.Point{X: c.Min.X + w/2, Y: c.Max.Y - y}, t)
		}
		y += sty.Height(t)
	}
	if fig.subtitle != "" {
		sty := textStyle(subtitleSize, false)
		sty.Color = color.Gray{Y: 0x40}
		// Wrap with some slack, for SVG viewers that substitute a wider font.
		for _, line := range wrapWords(sty, cleanText(fig.subtitle), 0.85*avail) {
			y += headerGap / 2
			if c != nil {
				c.FillText(sty, vg.Point{X: c.Min.X + w/2, Y: c.Max.Y - y}, line)
			}
			y += sty.Height(line)
		}
	}
	if len(fig.legend) > 0 {
		y += headerGap
		y += fig.legendStrip(c, w, y)
	}
	return y + headerGap
}

// legendStrip lays out the legend entries in centred lines under the title
// (outside every data area, so the legend never covers data) and returns the
// height used. top is the distance from the canvas top where it starts.
func (fig *figure) legendStrip(c *draw.Canvas, w, top vg.Length) vg.Length {
	sty := textStyle(legendTextSize, false)
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YCenter
	gap := 0.08 * vg.Inch   // thumb to text
	space := 0.22 * vg.Inch // between entries
	lineH := sty.Height("Mg") * 1.5
	avail := 0.9 * (w - 2*margin) // slack for SVG viewers that substitute a wider font

	type item struct {
		e     legendEntry
		label string
		w     vg.Length
	}
	var lines [][]item
	var widths []vg.Length
	var cur []item
	var curW vg.Length
	for _, e := range fig.legend {
		label := fitText(sty, e.label, avail-legendThumb-gap)
		// Reserve 12% more than the text's width: SVG viewers without
		// Liberation Sans or Arial substitute a wider font.
		iw := legendThumb + gap + sty.Width(label)*1.12
		add := iw
		if len(cur) > 0 {
			add += space
		}
		if len(cur) > 0 && curW+add > avail {
			lines, widths = append(lines, cur), append(widths, curW)
			cur, curW, add = nil, 0, iw
		}
		cur = append(cur, item{e, label, iw})
		curW += add
	}
	if len(cur) > 0 {
		lines, widths = append(lines, cur), append(widths, curW)
	}
	if c != nil {
		for i, line := range lines {
			x := c.Min.X + (w-widths[i])/2
			yc := c.Max.Y - top - lineH*vg.Length(i) - lineH/2
			for _, it := range line {
				th := sty.Height("M")
				tc := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
					Min: vg.Point{X: x, Y: yc - th/2},
					Max: vg.Point{X: x + legendThumb, Y: yc + th/2},
				}}
				it.e.thumb.Thumbnail(&tc)
				c.FillText(sty, vg.Point{X: x + legendThumb + gap, Y: yc}, it.label)
				x += it.w + space
			}
		}
	}
	return lineH * vg.Length(len(lines))
}

// naturalHeight is the height at which every row's data area gets its
// desired height: header + row heights + axes, titles and padding measured on
// a scratch canvas.
func (fig *figure) naturalHeight(w vg.Length) vg.Length {
	scratchH := max(20, 2*vg.Length(len(fig.cells))) * vg.Inch
	c := draw.New(vgimg.NewWith(vgimg.UseWH(w, scratchH), vgimg.UseDPI(1)))
	_, ySp := fig.spacings(draw.Crop(c, margin, -margin, 0, 0))
	h := fig.header(nil, w) + margin
	for j, rh := range fig.rowHeights {
		h += rh + ySp[j].lo + ySp[j].hi + fig.gapAbove(j)
	}
	// Round up to a tenth of an inch so pixel sizes are predictable.
	return vg.Length(math.Ceil(float64(h/vg.Inch)*10-1e-9)/10) * vg.Inch
}

type spacing struct{ lo, hi vg.Length }

// spacings returns, for each column and row, the largest space any plot in
// it needs outside its data area (axes, tick labels, titles), measured on
// equal tiles of c.
func (fig *figure) spacings(c draw.Canvas) (x, y []spacing) {
	rows, cols := len(fig.cells), fig.cols()
	x, y = make([]spacing, cols), make([]spacing, rows)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: fig.padX, PadY: fig.padY}
	for j, row := range fig.cells {
		for i, p := range row {
			if p == nil {
				continue
			}
			t := tiles.At(c, i, j)
			d := p.DataCanvas(t)
			x[i].lo = max(x[i].lo, d.Min.X-t.Min.X)
			x[i].hi = max(x[i].hi, t.Max.X-d.Max.X)
			y[j].lo = max(y[j].lo, d.Min.Y-t.Min.Y)
			y[j].hi = max(y[j].hi, t.Max.Y-d.Max.Y)
		}
		y[j].hi += fig.titleHeight(j)
	}
	return x, y
}

// takeTitles moves the plot titles into fig.titles.
func (fig *figure) takeTitles() {
	if fig.titles != nil {
		return
	}
	fig.titles = make([][]string, len(fig.cells))
	for j, row := range fig.cells {
		fig.titles[j] = make([]string, len(row))
		for i, p := range row {
			if p != nil {
				fig.titles[j][i], p.Title.Text = p.Title.Text, ""
			}
		}
	}
}

// titleHeight is the height the titles of row j need above the plots.
func (fig *figure) titleHeight(j int) vg.Length {
	var h vg.Length
	for i, p := range fig.cells[j] {
		if p != nil && fig.titles[j][i] != "" {
			h = max(h, p.Title.TextStyle.Height(fig.titles[j][i])+p.Title.Padding)
		}
	}
	return h
}

// gapAbove is the space between row j and the row above it.
func (fig *figure) gapAbove(j int) vg.Length {
	switch {
	case j == 0:
		return 0
	case fig.gaps != nil:
		return fig.gaps[j]
	}
	return fig.padY
}

func (fig *figure) cols() int {
	n := 0
	for _, row := range fig.cells {
		n = max(n, len(row))
	}
	return n
}

// draw paints the whole figure on c.
func (fig *figure) draw(c draw.Canvas) {
	w := c.Max.X - c.Min.X
	top := fig.header(&c, w)
	body := draw.Crop(c, margin, -margin, margin, -top)
	for _, cell := range fig.layout(body) {
		cell.p.Draw(cell.c)
		if cell.title == "" {
			continue
		}
		// Centre the title over the data area, at the top of the row.
		sty := cell.p.Title.TextStyle
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		for sty.Font.Size > minTitleSize && sty.Width(cell.title) > cell.titleW {
			sty.Font.Size -= 0.5 // shrink a little before cutting
		}
		t := fitText(sty, cell.title, cell.titleW)
		c.FillText(sty, vg.Point{X: (cell.data.Min.X + cell.data.Max.X) / 2, Y: cell.titleY}, t)
	}
}

// placed is a plot with its canvas, its data area, and where its title
// goes (top edge and available width).
type placed struct {
	p              *plot.Plot
	c              draw.Canvas
	data           vg.Rectangle
	title          string
	titleY, titleW vg.Length
}

// layout places every plot so that data areas line up: all plots in a
// column share the data area's left and right edges, all plots in a row share
// its bottom and top, and the data heights are proportional to rowHeights.
// It is plot.Align with rows of unequal height.
func (fig *figure) layout(body draw.Canvas) []placed {
	rows, cols := len(fig.cells), fig.cols()
	xSp, ySp := fig.spacings(body)

	totalW := body.Max.X - body.Min.X - fig.padX*vg.Length(cols-1)
	for _, s := range xSp {
		totalW -= s.lo + s.hi
	}
	dataW := max(totalW/vg.Length(cols), 0.2*vg.Inch)

	totalH := body.Max.Y - body.Min.Y
	var weight vg.Length
	for j, s := range ySp {
		totalH -= s.lo + s.hi + fig.gapAbove(j)
		weight += fig.rowHeights[j]
	}
	totalH = max(totalH, 0.2*vg.Inch*vg.Length(rows))

	var out []placed
	yTop := body.Max.Y
	for j, row := range fig.cells {
		yTop -= fig.gapAbove(j)
		dataH := totalH * fig.rowHeights[j] / weight
		dataMaxY := yTop - ySp[j].hi
		dataMinY := dataMaxY - dataH
		x := body.Min.X
		for i := range cols {
			dataMinX := x + xSp[i].lo
			dataMaxX := dataMinX + dataW
			if i < len(row) && row[i] != nil {
				p := row[i]
				// Measure this plot's own spacing on a canvas of about the
				// final size, then grow the canvas so its data area lands on
				// the shared edges.
				guess := draw.Canvas{Canvas: body.Canvas, Rectangle: vg.Rectangle{
					Min: vg.Point{X: dataMinX - xSp[i].lo, Y: dataMinY - ySp[j].lo},
					Max: vg.Point{X: dataMaxX + xSp[i].hi, Y: dataMaxY + ySp[j].hi},
				}}
				d := p.DataCanvas(guess)
				l, r := d.Min.X-guess.Min.X, guess.Max.X-d.Max.X
				b, t := d.Min.Y-guess.Min.Y, guess.Max.Y-d.Max.Y
				out = append(out, placed{
					p: p,
					c: draw.Canvas{Canvas: body.Canvas, Rectangle: vg.Rectangle{
						Min: vg.Point{X: dataMinX - l, Y: dataMinY - b},
						Max: vg.Point{X: dataMaxX + r, Y: dataMaxY + t},
					}},
					data: vg.Rectangle{
						Min: vg.Point{X: dataMinX, Y: dataMinY},
						Max: vg.Point{X: dataMaxX, Y: dataMaxY},
					},
					title:  fig.titles[j][i],
					titleY: dataMaxY + ySp[j].hi,
					titleW: dataW + min(xSp[i].lo, xSp[i].hi+fig.padX/2)*2,
				})
			}
			x = dataMaxX + xSp[i].hi + fig.padX
		}
		yTop = dataMinY - ySp[j].lo
	}
	return out
}

// fitText returns s, or s cut with an ellipsis so that it is at most w wide.
func fitText(sty text.Style, s string, w vg.Length) string {
	if sty.Width(s) <= w {
		return s
	}
	r := []rune(s)
	lo, hi := 0, len(r) // the longest prefix that fits is in [lo, hi)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if sty.Width(string(r[:mid])+"…") <= w {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return string(r[:lo]) + "…"
}

// wrapWords splits s into lines at most w wide, breaking at spaces.
func wrapWords(sty text.Style, s string, w vg.Length) []string {
	var lines []string
	line := ""
	for _, word := range splitSpaces(s) {
		try := word
		if line != "" {
			try = line + " " + word
		}
		if line != "" && sty.Width(try) > w {
			lines = append(lines, fitText(sty, line, w))
			line = word
			continue
		}
		line = try
	}
	if line != "" {
		lines = append(lines, fitText(sty, line, w))
	}
	return lines
}

func splitSpaces(s string) []string {
	var out []string
	start := -1
	for i, r := range s {
		if r == ' ' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}
