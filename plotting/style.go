package plotting

import (
	"fmt"
	"image/color"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// palette is the Okabe–Ito colour-blind-safe palette, in the order series
// get their colours (yellow, hard to see on white, comes last). It is the
// only colour definition in the package.
var palette = []color.NRGBA{
	{0x00, 0x72, 0xB2, 0xFF}, // blue
	{0xD5, 0x5E, 0x00, 0xFF}, // vermillion
	{0x00, 0x9E, 0x73, 0xFF}, // bluish green
	{0xCC, 0x79, 0xA7, 0xFF}, // reddish purple
	{0xE6, 0x9F, 0x00, 0xFF}, // orange
	{0x56, 0xB4, 0xE9, 0xFF}, // sky blue
	{0x00, 0x00, 0x00, 0xFF}, // black
	{0xF0, 0xE4, 0x42, 0xFF}, // yellow
}

// Colours with a fixed meaning.
var (
	positiveColor = palette[0] // values > 0 (Δ_t bars, heat cells)
	negativeColor = palette[1] // values < 0
	neutralColor  = palette[6] // reference lines, best-epoch marker
	gridColor     = color.Gray{Y: 0xE4}
)

// methodSlots fix the style slot (colour, dashes, marker) of the study's methods, so that a
// method is drawn alike in every figure: T1 bars, T2 curves, run comparisons.
var methodSlots = map[string]int{
	"eos": 0, "token": 1, "oracle": 2, "SFT": 3, "SFT-long": 4, "PT zero-shot": 5, "zero": 6,
	"eos_mean": 7, "logp_sft": 8, "token λ=1": 9, "token whitened": 10,
}

// methodLabels are the T1 labels of the methods that have one.
var methodLabels = map[string]string{"SRPPO-eos": "eos", "SRPPO-token": "token", "oracle-PPO": "oracle"}

// runSuffix is the "-N64-s1" of a study run name.
var runSuffix = regexp.MustCompile(`-N\d+-s\d+$`)

// methodSlot finds the method a series name stands for — the method itself, its T1 label, a run
// "eos-N64-s1 (eos)" or "token_lambda1-N64-s1" — and returns its slot.
func methodSlot(name string) (int, bool) {
	if i := strings.LastIndex(name, " ("); i > 0 && strings.HasSuffix(name, ")") {
		if s, ok := methodSlot(name[:i]); ok {
			return s, true
		}
		name = name[i+2 : len(name)-1]
	}
	name = runSuffix.ReplaceAllString(name, "")
	if m, ok := methodLabels[name]; ok {
		name = m
	}
	if s, ok := methodSlots[name]; ok {
		return s, true
	}
	s, ok := methodSlots[strings.NewReplacer("_", " ", "lambda=", "λ=", "lambda", "λ=").Replace(name)]
	return s, ok
}

// styleSlots gives each series its method's slot and the other series the smallest slots that no
// series of the figure uses, in order.
func styleSlots(names []string) []int {
	slots := make([]int, len(names))
	used := map[int]bool{}
	known := make([]bool, len(names))
	for i, n := range names {
		if s, ok := methodSlot(n); ok && !used[s] {
			slots[i], known[i], used[s] = s, true, true
		}
	}
	next := 0
	for i := range names {
		if known[i] {
			continue
		}
		for used[next] {
			next++
		}
		slots[i], used[next] = next, true
	}
	return slots
}

// seriesColor is the colour of the i-th series.
func seriesColor(i int) color.NRGBA { return palette[i%len(palette)] }

// seriesDashes returns no dashes for the first len(palette) series and then
// a different dash pattern for each further cycle, so that series with the
// same colour stay distinguishable.
func seriesDashes(i int) []vg.Length {
	switch (i / len(palette)) % 3 {
	case 1:
		return []vg.Length{vg.Points(6), vg.Points(3)}
	case 2:
		return []vg.Length{vg.Points(2), vg.Points(2)}
	}
	return nil
}

// seriesGlyph is the marker shape of the i-th series.
func seriesGlyph(i int) draw.GlyphDrawer {
	shapes := []draw.GlyphDrawer{draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{}, draw.PyramidGlyph{}}
	return shapes[(i/len(palette)+i)%len(shapes)]
}

// withAlpha returns c with opacity a in [0, 1].
func withAlpha(c color.NRGBA, a float64) color.NRGBA {
	c.A = uint8(math.Round(255 * a))
	return c
}

// diverging maps v in [-maxAbs, maxAbs] to white at 0, positiveColor at
// +maxAbs and negativeColor at -maxAbs.
func diverging(v, maxAbs float64) color.NRGBA {
	if maxAbs <= 0 || v == 0 {
		return color.NRGBA{0xFF, 0xFF, 0xFF, 0xFF}
	}
	t := math.Min(math.Abs(v)/maxAbs, 1)
	end := positiveColor
	if v < 0 {
		end = negativeColor
	}
	mix := func(a uint8) uint8 { return uint8(math.Round(255 + t*(float64(a)-255))) }
	return color.NRGBA{mix(end.R), mix(end.G), mix(end.B), 0xFF}
}

// isDark tells whether text on c should be white.
func isDark(c color.NRGBA) bool {
	lum := 0.2126*float64(c.R) + 0.7152*float64(c.G) + 0.0722*float64(c.B)
	return lum < 140
}

// textOn returns white on dark backgrounds and black otherwise.
func textOn(dark bool) color.Color {
	if dark {
		return color.White
	}
	return color.Black
}

// newPlot returns a plot with the package's fonts, a light grid and the
// given title and axis labels.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := newBarePlot(title, xLabel, yLabel)
	addGrid(p, true, true)
	return p
}

// newBarePlot is newPlot without grid lines.
func newBarePlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.TextHandler = plain
	p.Title.Text = cleanText(title)
	p.Title.TextStyle.Font = fontOf(panelTitleSize, true)
	p.Title.TextStyle.Handler = plain
	p.Title.Padding = 0.06 * vg.Inch
	p.X.Label.Text = cleanText(xLabel)
	p.Y.Label.Text = cleanText(yLabel)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = fontOf(axisLabelSize, false)
		a.Label.TextStyle.Handler = plain
		a.Tick.Label.Font = fontOf(tickLabelSize, false)
		a.Tick.Label.Handler = plain
		a.Tick.Marker = niceTicks{n: 6}
		a.Padding = vg.Points(2)
	}
	p.X.Label.Padding = vg.Points(2)
	p.Y.Label.Padding = vg.Points(3)
	return p
}

// addGrid adds light grid lines at the vertical (x) and horizontal (y)
// ticks.
func addGrid(p *plot.Plot, vertical, horizontal bool) {
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = nil, nil
	if vertical {
		g.Vertical.Color = gridColor
	}
	if horizontal {
		g.Horizontal.Color = gridColor
	}
	p.Add(g)
}

// lineThumb is a legend sample: a line, a marker, or both.
type lineThumb struct {
	line  draw.LineStyle
	glyph draw.GlyphStyle
	noLn  bool
}

func (t lineThumb) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	if !t.noLn {
		c.StrokeLine2(t.line, c.Min.X, y, c.Max.X, y)
	}
	if t.glyph.Shape != nil {
		c.DrawGlyph(t.glyph, c.Center())
	}
}

// boxThumb is a legend sample: a filled box.
type boxThumb struct{ fill color.Color }

func (t boxThumb) Thumbnail(c *draw.Canvas) {
	h := c.Max.Y - c.Min.Y
	r := vg.Rectangle{Min: vg.Point{X: c.Center().X - h, Y: c.Min.Y}, Max: vg.Point{X: c.Center().X + h, Y: c.Max.Y}}
	c.FillPolygon(t.fill, []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}})
}

// seriesLine returns the line style and glyph of series i.
func seriesLine(i int) (draw.LineStyle, draw.GlyphStyle) {
	c := seriesColor(i)
	return draw.LineStyle{Color: c, Width: vg.Points(1.6), Dashes: seriesDashes(i)},
		draw.GlyphStyle{Color: c, Radius: vg.Points(2.6), Shape: seriesGlyph(i)}
}

// addSeries adds x, y as a line in the style of series i (with markers when
// there are few points, so single points stay visible) and returns the
// legend sample.
func addSeries(p *plot.Plot, i int, x, y []float64) lineThumb {
	ls, gs := seriesLine(i)
	xys := make(plotter.XYs, len(x))
	for k := range x {
		xys[k] = plotter.XY{X: x[k], Y: y[k]}
	}
	l := &plotter.Line{XYs: xys, LineStyle: ls}
	p.Add(l)
	th := lineThumb{line: ls}
	if len(x) <= 40 {
		p.Add(&plotter.Scatter{XYs: xys, GlyphStyle: gs})
		th.glyph = gs
	}
	return th
}

// niceTicks places about n labelled ticks at round values (steps of 1, 2,
// 2.5 or 5 times a power of ten) labelled with just enough decimals.
type niceTicks struct{ n int }

func (t niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	raw := (hi - lo) / float64(max(t.n-1, 1))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step, extra := 10*mag, 0
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw*0.999 {
			step = m * mag
			if m == 2.5 {
				extra = 1
			}
			break
		}
	}
	dec := max(0, -int(math.Floor(math.Log10(step)+1e-9))+extra)
	big := math.Max(math.Abs(lo), math.Abs(hi))
	var ticks []plot.Tick
	for k := math.Ceil(lo/step - 1e-9); k*step <= hi+step*1e-9; k++ {
		v := k * step
		var s string
		if big >= 1e6 || big < 1e-4 {
			s = strconv.FormatFloat(v, 'g', 3, 64)
		} else {
			s = strconv.FormatFloat(v, 'f', dec, 64)
		}
		if v == 0 {
			s = "0"
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: s})
	}
	return ticks
}

// intTicks labels integer positions only (epochs, iterations, lengths),
// about n of them.
type intTicks struct{ n int }

func (t intTicks) Ticks(lo, hi float64) []plot.Tick {
	first, last := math.Ceil(lo), math.Floor(hi)
	if last < first {
		return niceTicks(t).Ticks(lo, hi)
	}
	step := 1.0
	for _, s := range []float64{1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000} {
		step = s
		if (last-first)/s <= float64(t.n) {
			break
		}
	}
	if (last-first)/step > float64(t.n) {
		return niceTicks(t).Ticks(lo, hi)
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatInt(int64(v), 10)})
	}
	return ticks
}

// allIntegers tells whether every value is a whole number.
func allIntegers(vs []float64) bool {
	for _, v := range vs {
		if v != math.Trunc(v) {
			return false
		}
	}
	return true
}

// checkFinite returns an error naming what and the index of the first NaN
// or infinite value in vs.
func checkFinite(what string, vs []float64) error {
	for i, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("plotting: %s: value %v at index %d (values must be finite)", what, v, i)
		}
	}
	return nil
}

// checkLen returns an error when got != want, naming both slices.
func checkLen(what string, got int, ref string, want int) error {
	if got != want {
		return fmt.Errorf("plotting: %s has %d values but %s has %d (must be equal)", what, got, ref, want)
	}
	return nil
}

// label makes a user string safe and legible as a one-line label: control
// characters become escapes, spaces inside tokens become "·", and long
// strings are cut to maxRunes with an ellipsis.
func label(s string, maxRunes int, showSpaces bool) string {
	if s == "" {
		return "''"
	}
	var b strings.Builder
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				fmt.Fprintf(&b, `\x%02x`, s[i])
				continue
			}
		}
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == ' ' && showSpaces:
			b.WriteRune('·')
		case unicode.IsControl(r) || !unicode.IsPrint(r) && r != ' ':
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	out := []rune(b.String())
	if maxRunes > 0 && len(out) > maxRunes {
		return string(out[:maxRunes-1]) + "…"
	}
	return string(out)
}

// cleanText makes a title or axis label safe to draw (and to write into
// SVG): invalid UTF-8 becomes "?" and control characters other than
// newline (which starts a new line) are dropped.
func cleanText(s string) string {
	return strings.Map(func(r rune) rune {
		if r != '\n' && unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

// compact formats v in few characters for cell and bar annotations.
func compact(v float64, digits int) string {
	a := math.Abs(v)
	switch {
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100 && digits > 0:
		return fmt.Sprintf("%.0f", v)
	case a >= 10 && digits > 1:
		return fmt.Sprintf("%.1f", v)
	}
	s := fmt.Sprintf("%.*f", digits, v)
	if s == "-0" || strings.TrimLeft(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-")
	}
	return s
}
