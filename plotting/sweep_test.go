package plotting

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image"
	"image/png"
	"io"
	"math"
	"strings"
	"testing"
)

// sampleHeatGrid is a β × chat-exposure grid of EM gains with one missing
// cell (NaN) and one missing sd.
func sampleHeatGrid() HeatGrid {
	nan := math.NaN()
	return HeatGrid{
		XTicks: []string{"f = 0", "f = 0.05", "f = 0.1", "f = 0.3"},
		YTicks: []string{"β = 0.05", "β = 0.2", "β = 1"},
		Values: [][]float64{{-4.1, -1.0, 0, 3.2}, {-0.4, 1.7, nan, 6.3}, {0.2, 2.5, 4.4, 8.9}},
		SD:     [][]float64{{1.1, 0.5, 0.3, 1.2}, {0.9, 0.8, 0, 2.1}, {0.4, 0.6, 1.0, nan}},
		Unit:   "pts",
	}
}

func sampleErrSeries() []ErrSeries {
	return []ErrSeries{
		{Name: "KL β", Points: []ErrPoint{
			{X: 1.5, Y: 0.42, XErr: 2.1, YErr: 0.03, Label: "β=0.05"},
			{X: 3.0, Y: 0.47, XErr: 1.1, YErr: 0.02, Label: "β=0.2"},
			{X: 5.2, Y: 0.55, XErr: 1.5, YErr: 0.04, Label: "β=1"},
		}},
		{Name: "shaping", Points: []ErrPoint{
			{X: -1.5, Y: 0.44, XErr: 0.9, YErr: 0.02, Label: "clip"},
			{X: 2.0, Y: 0.51, XErr: 1.0, Label: "eos_mean"},
			{X: 6.1, Y: 0.6, YErr: 0.03, Label: "baseline"},
		}},
		{Name: "eos", Points: []ErrPoint{{X: 0.3, Y: 0.48, XErr: 0.5, YErr: 0.05}}},
	}
}

func renderHeat(f Format) ([]byte, error) {
	return HeatMap("EM gain over SFT, ood_op", "chat exposure f", "KL coefficient β", sampleHeatGrid(), f)
}

func renderScatter(f Format) ([]byte, error) {
	return ScatterErrors("EM gain vs pairwise accuracy", "EM gain over SFT (pts)", "pairwise accuracy",
		sampleErrSeries(), f, WithHLine(0.5, "chance"))
}

// svgTexts returns the content and style attribute of every <text> element.
func svgTexts(t *testing.T, b []byte) (texts, styles []string) {
	t.Helper()
	checkXML(t, b)
	d := xml.NewDecoder(bytes.NewReader(b))
	style := ""
	in := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return texts, styles
		}
		if err != nil {
			t.Fatal(err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if tok.Name.Local == "text" {
				in, style = true, ""
				for _, a := range tok.Attr {
					if a.Name.Local == "style" {
						style = a.Value
					}
				}
			}
		case xml.CharData:
			if in {
				texts, styles = append(texts, string(tok)), append(styles, style)
			}
		case xml.EndElement:
			in = false
		}
	}
}

func TestHeatMapSVG(t *testing.T) {
	b, err := renderHeat(SVG)
	if err != nil {
		t.Fatal(err)
	}
	texts, _ := svgTexts(t, b)
	has := map[string]bool{}
	for _, s := range texts {
		has[s] = true
	}
	for _, want := range []string{
		"+3.2", "±1.1", "−4.1", "0.0", "+8.9", // values and sds
		"–",                                     // the NaN cell
		"f = 0", "f = 0.3", "β = 0.05", "β = 1", // tick labels
		"chat exposure f", "KL coefficient β", "EM gain over SFT, ood_op",
		"+8.9 pts", "0", "no value", // colour legend
	} {
		if !has[want] {
			t.Errorf("SVG has no text %q; texts: %q", want, texts)
		}
	}
	if !bytes.Contains(b, []byte("colour: −8.9 … +8.9 pts")) {
		t.Error("SVG does not state the colour scale")
	}
	// The cell whose sd is NaN shows its value without an sd line: "+8.9"
	// appears in its cell, and no "±NaN" anywhere.
	if bytes.Contains(b, []byte("NaN")) {
		t.Error("SVG shows a NaN")
	}
}

// TestHeatMapTextContrast: values on strongly coloured cells are written in
// white, on pale cells in black.
func TestHeatMapTextContrast(t *testing.T) {
	g := HeatGrid{XTicks: []string{"a", "b", "c"}, YTicks: []string{"r"}, Values: [][]float64{{5, -0.5, -5}}}
	b, err := HeatMap("t", "x", "y", g, SVG)
	if err != nil {
		t.Fatal(err)
	}
	texts, styles := svgTexts(t, b)
	white := map[string]int{}
	for i, s := range texts {
		if strings.Contains(strings.ToUpper(styles[i]), "FILL:#FFFFFF") {
			white[s]++
		}
	}
	if white["+5.0"] != 1 || white["−5.0"] != 1 {
		t.Errorf("values on full-strength cells not written in white: %v", white)
	}
	if white["−0.5"] != 0 {
		t.Errorf("value on a pale cell written in white: %v", white)
	}
}

// longestRun returns the longest horizontal and vertical runs of pixels
// matching keep, and the x of the middle of the longest horizontal run.
func longestRun(img image.Image, keep func(r, g, b uint8) bool) (horiz, vert, midX int) {
	bd := img.Bounds()
	match := func(x, y int) bool {
		r, g, b, _ := img.At(x, y).RGBA()
		return keep(uint8(r>>8), uint8(g>>8), uint8(b>>8))
	}
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		n := 0
		for x := bd.Min.X; x < bd.Max.X; x++ {
			if n = n + 1; !match(x, y) {
				n = 0
			}
			if n > horiz {
				horiz, midX = n, x-n/2
			}
		}
	}
	for x := bd.Min.X; x < bd.Max.X; x++ {
		n := 0
		for y := bd.Min.Y; y < bd.Max.Y; y++ {
			if n = n + 1; !match(x, y) {
				n = 0
			}
			vert = max(vert, n)
		}
	}
	return horiz, vert, midX
}

func bluish(r, g, b uint8) bool  { return int(b) > int(r)+80 && int(b) > int(g)+30 }
func reddish(r, g, b uint8) bool { return int(r) > int(b)+80 && int(r) > int(g)+30 }

// TestHeatMapColours: in a 2×1 grid, the positive cell (left) is filled
// blue and the negative cell (right) vermillion, each over most of its
// half of the figure (legend swatches are far narrower).
func TestHeatMapColours(t *testing.T) {
	g := HeatGrid{XTicks: []string{"plus", "minus"}, YTicks: []string{"r"}, Values: [][]float64{{7, -7}}}
	b, err := HeatMap("t", "x", "y", g, PNG)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	w := img.Bounds().Dx()
	bh, _, bx := longestRun(img, bluish)
	rh, _, rx := longestRun(img, reddish)
	if bh < w/3 || rh < w/3 {
		t.Fatalf("longest blue run %d px, vermillion run %d px in a %d px wide image: cells not coloured", bh, rh, w)
	}
	if bx >= w/2 || rx <= w/2 {
		t.Errorf("blue cell centred at x %d, vermillion at x %d: want the positive (blue) cell left", bx, rx)
	}
	// The same cell colours as diverging at full strength.
	if c := diverging(7, 7); c != positiveColor {
		t.Errorf("diverging(max) = %v, want %v", c, positiveColor)
	}
	// A grid of zeros renders white cells, no blue or vermillion.
	z := HeatGrid{XTicks: []string{"a", "b"}, YTicks: []string{"r", "s"}, Values: [][]float64{{0, 0}, {0, 0}}}
	b, err = HeatMap("zeros", "x", "y", z, PNG)
	if err != nil {
		t.Fatal(err)
	}
	if img, err = png.Decode(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if bh, _, _ := longestRun(img, bluish); bh > 0 {
		t.Errorf("zero grid has blue pixels (run %d)", bh)
	}
	if rh, _, _ := longestRun(img, reddish); rh > 0 {
		t.Errorf("zero grid has vermillion pixels (run %d)", rh)
	}
	svg, err := HeatMap("zeros", "x", "y", z, SVG)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(svg, []byte("all values are 0")) {
		t.Error("zero grid: the scale note does not say all values are 0")
	}
}

func TestScatterErrorsSVG(t *testing.T) {
	b, err := renderScatter(SVG)
	if err != nil {
		t.Fatal(err)
	}
	texts, _ := svgTexts(t, b)
	all := strings.Join(texts, "\n")
	for _, want := range []string{"β=0.05", "eos_mean", "baseline", "chance", "KL β", "shaping", "eos", "pairwise accuracy"} {
		if !strings.Contains(all, want) {
			t.Errorf("SVG has no text %q", want)
		}
	}
	if !bytes.Contains(b, []byte("stroke-dasharray")) {
		t.Error("no dashed reference line")
	}
	// One series: no legend, so its name is not drawn.
	one, err := ScatterErrors("t", "x", "y", []ErrSeries{{Name: "lonely-series", Points: []ErrPoint{{X: 1, Y: 2}}}}, SVG)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(one, []byte("lonely-series")) {
		t.Error("a single series has a legend")
	}
}

// TestScatterErrorBars: XErr draws a long horizontal bar and YErr a long
// vertical one, in the series colour; zero errors draw none.
func TestScatterErrorBars(t *testing.T) {
	pt := func(xe, ye float64) []ErrSeries {
		// Two far corners fix the axes; the middle point carries the bars.
		return []ErrSeries{{Name: "s", Points: []ErrPoint{{X: 0, Y: 0}, {X: 1, Y: 0.5, XErr: xe, YErr: ye}, {X: 2, Y: 1}}}}
	}
	for _, tc := range []struct {
		xe, ye       float64
		wantH, wantV bool
	}{{0, 0, false, false}, {0.8, 0, true, false}, {0, 0.4, false, true}, {0.8, 0.4, true, true}} {
		b, err := ScatterErrors("t", "x", "y", pt(tc.xe, tc.ye), PNG)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		h, v, _ := longestRun(img, bluish) // series 0 is blue
		// The figure is 900 px wide and the data area over 300 px tall: a bar
		// of 0.8 of half the x range is over 250 px, a marker about 10 px.
		if got := h > 100; got != tc.wantH {
			t.Errorf("XErr %v: longest horizontal blue run %d px", tc.xe, h)
		}
		if got := v > 60; got != tc.wantV {
			t.Errorf("YErr %v: longest vertical blue run %d px", tc.ye, v)
		}
	}
}

func TestSweepFiguresDeterministic(t *testing.T) {
	for _, render := range []func(Format) ([]byte, error){renderHeat, renderScatter} {
		for _, f := range []Format{SVG, PNG} {
			a, err := render(f)
			if err != nil {
				t.Fatal(err)
			}
			b, err := render(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("%s: two renders of the same input differ", f)
			}
		}
	}
}

// TestSweepEdgeCases renders valid but unusual inputs.
func TestSweepEdgeCases(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name string
		run  func(Format) ([]byte, error)
	}{
		{"heat: one cell", func(f Format) ([]byte, error) {
			return HeatMap("t", "", "", HeatGrid{XTicks: []string{"x"}, YTicks: []string{"y"}, Values: [][]float64{{0.004}}}, f)
		}},
		{"heat: all NaN", func(f Format) ([]byte, error) {
			return HeatMap("t", "", "", HeatGrid{XTicks: []string{"a", "b"}, YTicks: []string{"y"}, Values: [][]float64{{nan, nan}}}, f)
		}},
		{"heat: many columns, long ticks, big values", func(f Format) ([]byte, error) {
			g := HeatGrid{YTicks: []string{"a", "b"}, Values: [][]float64{make([]float64, 14), make([]float64, 14)}, SD: [][]float64{make([]float64, 14), make([]float64, 14)}}
			for i := range 14 {
				g.XTicks = append(g.XTicks, strings.Repeat("long tick ", 3)+string(rune('A'+i)))
				g.Values[0][i], g.Values[1][i] = float64(i*137)-900, 12345
				g.SD[0][i] = 1000
			}
			return HeatMap("t\x00", "x", "y", g, f)
		}},
		{"scatter: one point, no errors", func(f Format) ([]byte, error) {
			return ScatterErrors("t", "x", "y", []ErrSeries{{Points: []ErrPoint{{X: 1, Y: 1}}}}, f)
		}},
		{"scatter: many series, odd labels, several lines", func(f Format) ([]byte, error) {
			var s []ErrSeries
			for i := range 10 {
				s = append(s, ErrSeries{Name: "s</text>" + string(rune('a'+i)), Points: []ErrPoint{{X: float64(i), Y: float64(i * i), YErr: 1, Label: "\x01<&>"}}})
			}
			return ScatterErrors("t", "x", "y", s, f, WithHLine(0, ""), WithHLine(50, "half"), WithHLine(1e6, "off the chart"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.run(PNG)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if colours(img) < 3 {
				t.Error("blank image")
			}
			s, err := tc.run(SVG)
			if err != nil {
				t.Fatal(err)
			}
			checkXML(t, s)
		})
	}
}

func TestSweepInvalidInputs(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	heat := func(mod func(*HeatGrid)) func() ([]byte, error) {
		return func() ([]byte, error) {
			g := sampleHeatGrid()
			mod(&g)
			return HeatMap("t", "x", "y", g, PNG)
		}
	}
	scatter := func(mod func([]ErrSeries) []ErrSeries, opts ...Option) func() ([]byte, error) {
		return func() ([]byte, error) {
			return ScatterErrors("t", "x", "y", mod(sampleErrSeries()), PNG, opts...)
		}
	}
	same := func(s []ErrSeries) []ErrSeries { return s }
	tests := []invalidCase{
		{"heat: no rows", heat(func(g *HeatGrid) { g.Values, g.SD, g.YTicks = nil, nil, nil }), "empty grid"},
		{"heat: empty row", heat(func(g *HeatGrid) { g.Values = [][]float64{{}} }), "empty grid"},
		{"heat: ragged", heat(func(g *HeatGrid) { g.Values[2] = g.Values[2][:3] }), "Values row 2 has 3 values but row 0 has 4"},
		{"heat: y ticks", heat(func(g *HeatGrid) { g.YTicks = g.YTicks[:2] }), "YTicks has 2 values but Values (rows) has 3"},
		{"heat: x ticks", heat(func(g *HeatGrid) { g.XTicks = append(g.XTicks, "f = 1") }), "XTicks has 5 values but each row of Values has 4"},
		{"heat: SD rows", heat(func(g *HeatGrid) { g.SD = g.SD[:1] }), "SD has 1 rows but Values has 3"},
		{"heat: SD row length", heat(func(g *HeatGrid) { g.SD[1] = g.SD[1][:2] }), "SD row 1 has 2 values"},
		{"heat: Inf value", heat(func(g *HeatGrid) { g.Values[1][3] = -inf }), `cell (x 3 "f = 0.3", y 1 "β = 0.2"): value -Inf`},
		{"heat: Inf SD", heat(func(g *HeatGrid) { g.SD[0][0] = inf }), `cell (x 0 "f = 0", y 0 "β = 0.05"): SD +Inf`},
		{"heat: negative SD", heat(func(g *HeatGrid) { g.SD[2][1] = -0.1 }), "negative SD -0.1"},
		{"heat: bad format", func() ([]byte, error) { return HeatMap("t", "x", "y", sampleHeatGrid(), Format("gif")) }, "unknown format"},
		{"scatter: no series", func() ([]byte, error) { return ScatterErrors("t", "x", "y", nil, PNG) }, "no series"},
		{"scatter: no points", scatter(func(s []ErrSeries) []ErrSeries { s[1].Points = nil; return s }), `series 1 ("shaping") has no points`},
		{"scatter: NaN X", scatter(func(s []ErrSeries) []ErrSeries { s[0].Points[2].X = nan; return s }), `series 0 ("KL β") point 2 ("β=1"): X is NaN`},
		{"scatter: Inf Y", scatter(func(s []ErrSeries) []ErrSeries { s[2].Points[0].Y = inf; return s }), `series 2 ("eos") point 0: Y is +Inf`},
		{"scatter: NaN YErr", scatter(func(s []ErrSeries) []ErrSeries { s[1].Points[0].YErr = nan; return s }), `point 0 ("clip"): YErr is NaN`},
		{"scatter: negative YErr", scatter(func(s []ErrSeries) []ErrSeries { s[1].Points[1].YErr = -1; return s }), `point 1 ("eos_mean"): negative error (XErr 1, YErr -1)`},
		{"scatter: NaN reference line", scatter(same, WithHLine(nan, "chance")), `reference line 0 ("chance"): Y NaN is not finite`},
	}
	runInvalidCases(t, tests)
}
