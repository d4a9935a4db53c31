package plotting

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// TokenRow is one per-token quantity of a response, e.g. "log π_sft",
// "log π_pt", "KL_t", "value" or "advantage": Values[t] belongs to token t.
type TokenRow struct {
	Label  string
	Values []float64
}

// TokenView is one response to inspect token by token: its tokens, the
// per-token reward Δ_t = log π_sft − log π_pt, and any further rows.
// len(Delta), and len(Values) of every row, must equal len(Tokens).
type TokenView struct {
	Title  string
	Tokens []string
	Delta  []float64
	Rows   []TokenRow
}

const (
	// DefaultTokensPerLine is the wrap width of TokenRewards when its
	// maxTokensPerLine argument is 0.
	DefaultTokensPerLine = 24
	// MaxTokenLines is how many lines of one response TokenRewards draws;
	// later tokens are left out and the view's title says how many are shown.
	MaxTokenLines = 8

	maxTokenRunes  = 12 // longer tokens are cut with an ellipsis
	deltaRowHeight = 1.05 * vg.Inch
	heatCellHeight = 0.25 * vg.Inch
	annotationSize = 7
)

// TokenRewards draws the token-level view of one or several responses. For
// each response, Δ_t is drawn as signed bars (blue > 0: the SFT model likes
// the token more than the pretrained one; vermillion < 0) with the value on
// each bar and the tokens as x labels; under the bars each row (log π_sft,
// log π_pt, KL_t, value, advantage...) is a heat strip with the values
// written in the cells where they fit. Colours of a row are scaled to the
// largest |value| with that label over all views; Δ bars share one y range.
// Responses longer than maxTokensPerLine (DefaultTokensPerLine when 0) wrap
// onto further lines, at most MaxTokenLines per response. Token strings are
// shown with spaces as "·", control characters escaped and long tokens cut.
func TokenRewards(views []TokenView, maxTokensPerLine int, f Format, opts ...Option) ([]byte, error) {
	if len(views) == 0 {
		return nil, errors.New("plotting: token rewards: no responses")
	}
	if maxTokensPerLine < 0 {
		return nil, fmt.Errorf("plotting: token rewards: maxTokensPerLine %d < 0", maxTokensPerLine)
	}
	if maxTokensPerLine == 0 {
		maxTokensPerLine = DefaultTokensPerLine
	}
	// Validate, and find the shared scales.
	scale := map[string]float64{} // row label -> max |value|
	dMin, dMax := 0.0, 0.0
	longest := 0
	for vi, v := range views {
		name := fmt.Sprintf("token rewards: response %d (%q)", vi, v.Title)
		if len(v.Tokens) == 0 {
			return nil, fmt.Errorf("plotting: %s has no tokens", name)
		}
		if err := checkLen(name+" Delta", len(v.Delta), "Tokens", len(v.Tokens)); err != nil {
			return nil, err
		}
		if err := checkFinite(name+" Delta", v.Delta); err != nil {
			return nil, err
		}
		for _, d := range v.Delta {
			dMin, dMax = math.Min(dMin, d), math.Max(dMax, d)
		}
		for ri, r := range v.Rows {
			rn := fmt.Sprintf("%s row %d (%q)", name, ri, r.Label)
			if err := checkLen(rn, len(r.Values), "Tokens", len(v.Tokens)); err != nil {
				return nil, err
			}
			if err := checkFinite(rn, r.Values); err != nil {
				return nil, err
			}
			for _, x := range r.Values {
				scale[r.Label] = math.Max(scale[r.Label], math.Abs(x))
			}
		}
		longest = max(longest, len(v.Tokens))
	}
	perLine := min(maxTokensPerLine, longest)

	// The expected width of one token's slot, from which each line decides
	// how its labels fit (see tokenTicks).
	o := resolve(opts)
	w := o.size.W
	if w == 0 {
		w = defaultWidth
	}
	rowSty := textStyle(tickLabelSize, false)
	left := rowSty.Width("log π_sft ") // a typical row label
	for _, v := range views {
		for _, r := range v.Rows {
			left = max(left, rowSty.Width(label(r.Label, 16, false)))
		}
	}
	cellW := (w - 2*margin - left - vg.Points(14)) / vg.Length(perLine)

	title := "Per-token reward Δ_t = log π_sft − log π_pt"
	if o := resolve(opts); o.title != "" {
		title = o.title
	}
	fig := &figure{
		title:    title,
		subtitle: "Bars: Δ_t in nats. Strips: blue > 0, vermillion < 0, shade scaled per row to its largest |value|.",
		legend: []legendEntry{
			{"Δ_t > 0: SFT model prefers the token", boxThumb{positiveColor}},
			{"Δ_t < 0: pretrained model prefers it", boxThumb{negativeColor}},
		},
		padY: 0.06 * vg.Inch,
	}
	// Leave room for the values written above positive and under negative
	// bars.
	pad := 0.2 * (dMax - dMin)
	if pad == 0 {
		pad = 0.5
	}
	yMin, yMax := dMin, dMax
	if yMin < 0 {
		yMin -= pad
	}
	if yMax > 0 {
		yMax += pad
	}
	if yMin == 0 && yMax == 0 {
		yMin, yMax = -1, 1
	}

	for _, v := range views {
		n := len(v.Tokens)
		lines := (n + perLine - 1) / perLine
		shown := n
		if lines > MaxTokenLines {
			lines, shown = MaxTokenLines, MaxTokenLines*perLine
		}
		sum := 0.0
		for _, d := range v.Delta {
			sum += d
		}
		for li := range lines {
			lo, hi := li*perLine, min((li+1)*perLine, shown)
			var title string
			switch {
			case li == 0:
				title = fmt.Sprintf("%s   r = ΣΔ = %s over %d tokens", label(v.Title, 60, false), compactG(sum), n)
				if shown < n {
					title += fmt.Sprintf(" (first %d shown)", shown)
				}
				if lines > 1 {
					title += fmt.Sprintf(" — tokens %d–%d", lo+1, hi)
				}
			default:
				title = fmt.Sprintf("… tokens %d–%d", lo+1, hi)
			}
			dp := deltaPlot(title, v.Tokens[lo:hi], v.Delta[lo:hi], perLine, yMin, yMax, cellW)
			if li > 0 {
				dp.Title.TextStyle.Font = fontOf(tickLabelSize, false)
			}
			gap := fig.padY
			if li == 0 && len(fig.cells) > 0 {
				gap = 0.25 * vg.Inch // between responses
			}
			fig.cells = append(fig.cells, []*plot.Plot{dp})
			fig.rowHeights = append(fig.rowHeights, deltaRowHeight)
			fig.gaps = append(fig.gaps, gap)
			if len(v.Rows) > 0 {
				fig.cells = append(fig.cells, []*plot.Plot{heatPlot(v.Rows, lo, hi, perLine, scale)})
				fig.rowHeights = append(fig.rowHeights, heatCellHeight*vg.Length(len(v.Rows)))
				fig.gaps = append(fig.gaps, fig.padY)
			}
		}
	}
	return fig.render(f, opts)
}

// deltaPlot draws the Δ_t bars of one line of tokens; cellW is the
// expected width of one token's slot.
func deltaPlot(title string, tokens []string, delta []float64, perLine int, yMin, yMax float64, cellW vg.Length) *plot.Plot {
	p := newBarePlot(title, "", "Δ_t (nats)")
	addGrid(p, false, true)
	p.Add(hline{y: 0, style: draw.LineStyle{Color: neutralColor, Width: vg.Points(0.8)}})
	bars := &rects{}
	pos := &texts{style: textStyle(annotationSize, false), dy: vg.Points(1.5), maxW: 1}
	neg := &texts{style: textStyle(annotationSize, false), dy: -vg.Points(1.5), maxW: 1}
	pos.style.YAlign, neg.style.YAlign = draw.YBottom, draw.YTop
	for i, d := range delta {
		x := float64(i)
		c := positiveColor
		t := pos
		if d < 0 {
			c, t = negativeColor, neg
		}
		bars.add(x-0.4, x+0.4, 0, d, c)
		t.x, t.y, t.s = append(t.x, x), append(t.y, d), append(t.s, compact(d, 2))
	}
	p.Add(bars, pos, neg)
	p.X.Min, p.X.Max = -0.5, float64(perLine)-0.5
	p.Y.Min, p.Y.Max = yMin, yMax
	p.X.Padding = 0
	ticks, rotation := tokenTicks(p.X.Tick.Label, tokens, cellW)
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	if rotation != 0 {
		p.X.Tick.Label.Rotation = rotation
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}
	return p
}

// tokenTicks returns the x tick labels of one line of tokens and their
// rotation. Labels stay horizontal when they fit their slot; otherwise they
// alternate between two rows, each label cut to fit two slots, so that they
// still read left to right. Only when two slots are narrower than a short
// token like "<eos>" are labels turned 90°, showing every k-th label when
// the slots are narrower than a line of text.
func tokenTicks(sty text.Style, tokens []string, cellW vg.Length) ([]plot.Tick, float64) {
	labels := make([]string, len(tokens))
	var widest vg.Length
	for i, t := range tokens {
		labels[i] = label(t, maxTokenRunes, true)
		widest = max(widest, sty.Width(labels[i]))
	}
	fontH := sty.Height("M")
	rotation, every, stagger := 0.0, 1, false
	switch {
	case widest <= cellW-vg.Points(2):
	case 2*cellW-vg.Points(4) >= sty.Width("<eos>"):
		stagger = true
	default:
		rotation = math.Pi / 2
		every = max(1, int(math.Ceil(float64(fontH/cellW))))
	}
	ticks := make([]plot.Tick, len(tokens))
	for i, l := range labels {
		switch {
		case i%every != 0:
			l = ""
		case stagger:
			l = fitText(sty, l, 2*cellW-vg.Points(4))
			if i%2 == 1 {
				l = "\n" + l // second row: an empty first line
			}
		}
		ticks[i] = plot.Tick{Value: float64(i), Label: l}
	}
	return ticks, rotation
}

// heatPlot draws the rows of one line of tokens as heat strips.
// shadeFloor is the smallest |value| a token strip's shading scales to: per-row scaling must
// not turn values of 1e-7 into full colour.
const shadeFloor = 1e-3

func heatPlot(rows []TokenRow, lo, hi, perLine int, scale map[string]float64) *plot.Plot {
	p := newBarePlot("", "", "")
	names := make([]string, len(rows))
	h := &heatCells{style: textStyle(annotationSize, false)}
	for r, row := range rows {
		names[len(rows)-1-r] = label(row.Label, 16, false) // first row on top
		h.rows = append(h.rows, row.Values[lo:hi])
		// A strip whose values are all below shadeFloor (a KL of float noise) stays white instead
		// of being shaded at full strength relative to itself.
		h.maxAbs = append(h.maxAbs, math.Max(scale[row.Label], shadeFloor))
	}
	p.Add(h)
	p.NominalY(names...)
	p.HideX()
	p.X.Min, p.X.Max = -0.5, float64(perLine)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(len(rows))-0.5
	p.X.Padding, p.Y.Padding = 0, vg.Points(3)
	return p
}

// heatCells draws rows of values as coloured cells (row 0 on top) with the
// value written in each cell it fits in.
type heatCells struct {
	rows   [][]float64
	maxAbs []float64
	style  text.Style
}

func (h *heatCells) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	sep := draw.LineStyle{Color: gridColor, Width: vg.Points(0.75)}
	sty := h.style
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	for r, vals := range h.rows {
		y := float64(len(h.rows) - 1 - r)
		y0, y1 := ty(y-0.5), ty(y+0.5)
		for i, v := range vals {
			x0, x1 := tx(float64(i)-0.5), tx(float64(i)+0.5)
			fill := diverging(v, h.maxAbs[r])
			pts := []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
			c.FillPolygon(fill, pts)
			c.StrokeLines(sep, append(pts, pts[0]))
			if y1-y0 < sty.Height("0") {
				continue
			}
			for _, digits := range []int{2, 1, 0} {
				s := compact(v, digits)
				if sty.Width(s) <= x1-x0-vg.Points(2) {
					sty.Color = textOn(isDark(fill))
					c.FillText(sty, vg.Point{X: (x0 + x1) / 2, Y: (y0 + y1) / 2}, s)
					break
				}
			}
		}
	}
}

// resolve applies opts to the defaults.
func resolve(opts []Option) options {
	o := options{dpi: DefaultDPI}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}
