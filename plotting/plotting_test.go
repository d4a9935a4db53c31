package plotting

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/image/font/sfnt"
)

// Sample inputs shaped like real SRPPO logs, deterministic.

func sampleSteps(n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = float64(i * 10)
	}
	return x
}

func curve(n int, f func(t float64) float64, noise float64, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	y := make([]float64, n)
	for i := range y {
		y[i] = f(float64(i)/float64(max(n-1, 1))) + noise*r.NormFloat64()
	}
	return y
}

func samplePanels() []Panel {
	n := 60
	x := sampleSteps(n)
	one := func(title, ylabel string, f func(float64) float64, noise float64, seed uint64) Panel {
		return Panel{Title: title, XLabel: "PPO iteration", YLabel: ylabel,
			Series: []Series{{Name: title, X: x, Y: curve(n, f, noise, seed)}}}
	}
	return []Panel{
		{Title: "loss", XLabel: "step", YLabel: "loss (nats/token)", Series: []Series{
			{Name: "train", X: x, Y: curve(n, func(t float64) float64 { return 2.5*math.Exp(-3*t) + 0.4 }, 0.03, 1)},
			{Name: "validation", X: x, Y: curve(n, func(t float64) float64 { return 2.5*math.Exp(-2.5*t) + 0.55 + 0.3*t*t }, 0.02, 2)},
		}},
		one("reward", "r = ΣΔ (nats)", func(t float64) float64 { return 3 + 4*t }, 0.3, 3),
		one("KL to ref", "nats", func(t float64) float64 { return 0.5 * t }, 0.02, 4),
		one("length", "tokens", func(t float64) float64 { return 6 + 3*t }, 0.2, 5),
		one("EOS %", "% of responses", func(t float64) float64 { return 100 - 4*t }, 0.5, 6),
		one("clip fraction", "fraction of tokens", func(t float64) float64 { return 0.05 + 0.1*t }, 0.01, 7),
		one("approx-KL", "nats", func(t float64) float64 { return 0.01 + 0.02*t }, 0.002, 8),
		one("value loss", "squared error", func(t float64) float64 { return 2 * math.Exp(-4*t) }, 0.05, 9),
		one("explained variance", "1 = perfect", func(t float64) float64 { return 0.9 * (1 - math.Exp(-5*t)) }, 0.02, 10),
		one("entropy", "nats / token", func(t float64) float64 { return 1.2 - 0.5*t }, 0.02, 11),
		one("validation loss", "nats / token", func(t float64) float64 { return 0.8 - 0.2*t }, 0.01, 12),
	}
}

func sampleEpochs() EpochLosses {
	l := EpochLosses{Best: -1}
	for e := 1; e <= 12; e++ {
		t := float64(e)
		l.Epoch = append(l.Epoch, e)
		l.Train = append(l.Train, 2.2*math.Exp(-0.45*t)+0.05)
		l.HeldOut = append(l.HeldOut, 2.2*math.Exp(-0.4*t)+0.25+0.012*t*t)
	}
	return l
}

func tokenView(title string, tokens []string, seed uint64) TokenView {
	r := rand.New(rand.NewPCG(seed, 2))
	n := len(tokens)
	v := TokenView{Title: title, Tokens: tokens, Delta: make([]float64, n)}
	sft, pt, kl, val, adv := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range tokens {
		sft[i] = -0.05 - 1.5*r.Float64()
		pt[i] = sft[i] - 2*r.NormFloat64()
		if tokens[i] == "<eos>" {
			pt[i] = -7.5
		}
		pt[i] = math.Min(pt[i], -0.01)
		v.Delta[i] = sft[i] - pt[i]
		kl[i] = 0.3 * r.Float64()
		val[i] = 2 + r.NormFloat64()
		adv[i] = r.NormFloat64()
	}
	v.Rows = []TokenRow{
		{"log π_sft", sft}, {"log π_pt", pt}, {"KL_t", kl}, {"value", val}, {"advantage", adv},
	}
	return v
}

func sampleTokenViews() []TokenView {
	long := strings.Fields("SORT f a 3 c 9 b -> 3 9 a b c f ; the SORT of 1 2 is 1 2 ; REV a b -> b a ; MAX 1 7 3 = 7 ; FIRST a b c = a ; LAST d e = e ; MIN 4 2 = 2 ;")
	long = append(long, "a long token with spaces", "tab\there", "<eos>")
	return []TokenView{
		tokenView("REV a b c → c b a (correct)", strings.Fields("c b a <eos>"), 1),
		tokenView("SORT 3 1 2 (truncated, 50+ tokens)", long, 2),
	}
}

func sampleLengthRuns() []LengthRun {
	var runs []LengthRun
	for ri, name := range []string{"SRPPO-eos", "SRPPO-token"} {
		run := LengthRun{Name: name}
		for k, it := range []int{0, 50, 100, 200} {
			r := rand.New(rand.NewPCG(uint64(ri*10+k), 3))
			ls := make([]int, 128)
			for i := range ls {
				m := 6.0
				if ri == 1 {
					m += 0.06 * float64(it)
				}
				ls[i] = min(24, max(1, int(math.Round(m+2*r.NormFloat64()))))
			}
			run.Hists = append(run.Hists, LengthHist{Iteration: it, Lengths: ls})
		}
		runs = append(runs, run)
	}
	return runs
}

func sampleMeanSD() []MeanSD {
	var out []MeanSD
	for i, name := range []string{"eos", "token", "eos_mean", "token λ=1", "token whitened"} {
		r := MeanSD{Name: name}
		for it := 0; it <= 200; it += 10 {
			r.X = append(r.X, float64(it))
			r.Mean = append(r.Mean, 6+float64(i)*0.02*float64(it))
			r.SD = append(r.SD, 1.5+0.005*float64(it))
		}
		out = append(out, r)
	}
	return out
}

func sampleRewardLength() (lengths, rewards []float64) {
	r := rand.New(rand.NewPCG(7, 7))
	for range 256 {
		l := float64(2 + r.IntN(20))
		lengths = append(lengths, l)
		rewards = append(rewards, 1.5+0.35*l+2*r.NormFloat64())
	}
	return lengths, rewards
}

func sampleBars() []Bar {
	var bars []Bar
	methods := []string{"PT zero-shot", "SFT", "SFT-long", "SRPPO-eos", "SRPPO-token", "oracle-PPO"}
	base := []float64{0.05, 0.81, 0.78, 0.83, 0.8, 0.9}
	for mi, m := range methods {
		for gi, g := range []string{"id", "ood_op", "ood_len"} {
			mean := base[mi] * []float64{1, 0.1 + 0.1*float64(mi), 0.75}[gi]
			bars = append(bars, Bar{Method: m, Group: g, Mean: mean, SD: 0.01 + 0.01*float64(mi)})
		}
	}
	return bars
}

func sampleDashboard() Dashboard {
	n := 50
	d := Dashboard{Iteration: make([]float64, n), Metrics: map[string][]float64{}}
	for i := range d.Iteration {
		d.Iteration[i] = float64(i)
	}
	for k, m := range dashboardMetrics {
		d.Metrics[m.key] = curve(n, func(t float64) float64 { return float64(k+1) * (0.5 + t) }, 0.05, uint64(k))
	}
	d.Metrics["delta_eos"] = curve(n, func(t float64) float64 { return 4 + t }, 0.1, 99)
	return d
}

// figures renders every figure with the sample inputs.
var figures = []struct {
	name   string
	render func(Format) ([]byte, error)
}{
	{"training_curves", func(f Format) ([]byte, error) { return TrainingCurves("SRPPO-eos, seed 1", samplePanels(), 3, f) }},
	{"overfitting", func(f Format) ([]byte, error) { return OverfittingCurve("SFT on 64 demos", sampleEpochs(), f) }},
	{"token_rewards", func(f Format) ([]byte, error) { return TokenRewards(sampleTokenViews(), 0, f) }},
	{"length_histograms", func(f Format) ([]byte, error) { return LengthHistograms(sampleLengthRuns(), f) }},
	{"mean_length", func(f Format) ([]byte, error) {
		return MeanLengthCurves("Mean response length by reward placement", "response length (tokens)", sampleMeanSD(), f)
	}},
	{"reward_vs_length", func(f Format) ([]byte, error) {
		l, r := sampleRewardLength()
		return RewardVsLength("SRPPO-token, iteration 200", l, r, f)
	}},
	{"grouped_bars", func(f Format) ([]byte, error) {
		return GroupedBars("Exact match, N = 64 demos (3 seeds)", "exact match", sampleBars(), f)
	}},
	{"dashboard", func(f Format) ([]byte, error) {
		return PPODashboard("PPO iteration 49 — SRPPO-eos", sampleDashboard(), f)
	}},
	{"heat_map", renderHeat},          // sweep_test.go
	{"scatter_errors", renderScatter}, // sweep_test.go
}

func TestFiguresPNG(t *testing.T) {
	for _, fg := range figures {
		t.Run(fg.name, func(t *testing.T) {
			b, err := fg.render(PNG)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if w := img.Bounds().Dx(); w != 900 {
				t.Errorf("width %d px, want 900", w)
			}
			if h := img.Bounds().Dy(); h < 300 || h%10 != 0 {
				t.Errorf("height %d px: want >= 300 and a whole tenth of an inch", h)
			}
			if n := colours(img); n < 3 {
				t.Errorf("image has %d colours: blank?", n)
			}
			again, err := fg.render(PNG)
			if err != nil || !bytes.Equal(b, again) {
				t.Errorf("second render differs (err %v): output not deterministic", err)
			}
			if dir := os.Getenv("PLOTTING_GALLERY"); dir != "" {
				if err := WriteFile(filepath.Join(dir, fg.name+".png"), b); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestFiguresSVG(t *testing.T) {
	for _, fg := range figures {
		t.Run(fg.name, func(t *testing.T) {
			b, err := fg.render(SVG)
			if err != nil {
				t.Fatal(err)
			}
			texts := checkXML(t, b)
			if texts == 0 {
				t.Error("SVG has no text elements")
			}
			if bytes.Contains(b, []byte("font-family:Liberation Sans;")) {
				t.Error("SVG names a font without fallbacks")
			}
			if dir := os.Getenv("PLOTTING_GALLERY"); dir != "" {
				if err := WriteFile(filepath.Join(dir, fg.name+".svg"), b); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// checkXML decodes every token of b and returns the number of <text>
// elements.
func checkXML(t *testing.T, b []byte) int {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	n, texts := 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not valid XML after %d tokens: %v", n, err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "text" {
			texts++
		}
		n++
	}
	if n < 10 {
		t.Fatalf("SVG has only %d XML tokens", n)
	}
	return texts
}

// colours counts distinct colours, stopping at 16.
func colours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if len(seen) >= 16 {
				return len(seen)
			}
		}
	}
	return len(seen)
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name         string
		opts         []Option
		wantW, wantH int
		wantErr      string
	}{
		{"size and dpi", []Option{WithSize(Size{W: 6 * 72, H: 4 * 72}), WithDPI(50)}, 300, 200, ""},
		{"width only", []Option{WithSize(Size{W: 5 * 72})}, 500, -1, ""},
		{"bad dpi", []Option{WithDPI(-3)}, 0, 0, "dpi"},
		{"too small", []Option{WithSize(Size{W: 10, H: 10})}, 0, 0, "out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := OverfittingCurve("x", sampleEpochs(), PNG, tc.opts...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := png.DecodeConfig(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Width != tc.wantW || (tc.wantH >= 0 && cfg.Height != tc.wantH) {
				t.Errorf("size %dx%d, want %dx%d", cfg.Width, cfg.Height, tc.wantW, tc.wantH)
			}
		})
	}
	if _, err := OverfittingCurve("x", sampleEpochs(), Format("jpeg")); err == nil || !strings.Contains(err.Error(), "format") {
		t.Errorf("unknown format: err = %v", err)
	}
}

// invalidCase is a figure call that must fail: its error mentions want, carries the package
// prefix, and comes without bytes.
type invalidCase struct {
	name string
	run  func() ([]byte, error)
	want string // substring of the error
}

func runInvalidCases(t *testing.T, tests []invalidCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.run()
			if err == nil {
				t.Fatalf("no error (got %d bytes), want one mentioning %q", len(b), tc.want)
			}
			if b != nil {
				t.Errorf("got %d bytes with the error", len(b))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "plotting: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestInvalidInputs(t *testing.T) {
	nan := math.NaN()
	tv := func(mod func(*TokenView)) []TokenView {
		v := tokenView("t", []string{"a", "b", "<eos>"}, 1)
		mod(&v)
		return []TokenView{v}
	}
	tests := []invalidCase{
		{"curves: no panels", func() ([]byte, error) { return TrainingCurves("t", nil, 2, PNG) }, "no panels"},
		{"curves: no series", func() ([]byte, error) { return TrainingCurves("t", []Panel{{Title: "p"}}, 2, PNG) }, `("p") has no series`},
		{"curves: empty series", func() ([]byte, error) {
			return TrainingCurves("t", []Panel{{Title: "p", Series: []Series{{Name: "s"}}}}, 2, PNG)
		}, "is empty"},
		{"curves: length mismatch", func() ([]byte, error) {
			return TrainingCurves("t", []Panel{{Title: "p", Series: []Series{{Name: "s", X: []float64{1, 2}, Y: []float64{1}}}}}, 2, PNG)
		}, `series 0 ("s") Y has 1 values but X has 2`},
		{"curves: NaN", func() ([]byte, error) {
			return TrainingCurves("t", []Panel{{Title: "p", Series: []Series{{Name: "s", X: []float64{1, 2}, Y: []float64{1, nan}}}}}, 2, PNG)
		}, `"s") Y: value NaN at index 1`},
		{"curves: Inf step", func() ([]byte, error) {
			return TrainingCurves("t", []Panel{{Title: "p", Series: []Series{{Name: "s", X: []float64{math.Inf(1)}, Y: []float64{1}}}}}, 2, PNG)
		}, "X: value +Inf at index 0"},
		{"overfit: empty", func() ([]byte, error) { return OverfittingCurve("t", EpochLosses{}, PNG) }, "no epochs"},
		{"overfit: mismatch", func() ([]byte, error) {
			return OverfittingCurve("t", EpochLosses{Epoch: []int{1, 2}, Train: []float64{1, 2}, HeldOut: []float64{1}}, PNG)
		}, "HeldOut has 1 values but Epoch has 2"},
		{"overfit: NaN", func() ([]byte, error) {
			return OverfittingCurve("t", EpochLosses{Epoch: []int{1, 2}, Train: []float64{nan, 2}, HeldOut: []float64{1, 2}}, PNG)
		}, "Train: value NaN at index 0"},
		{"overfit: best missing", func() ([]byte, error) {
			return OverfittingCurve("t", EpochLosses{Epoch: []int{1, 2}, Train: []float64{1, 2}, HeldOut: []float64{1, 2}, Best: 7}, PNG)
		}, "best epoch 7 is not in Epoch"},
		{"overfit: epochs not increasing", func() ([]byte, error) {
			return OverfittingCurve("t", EpochLosses{Epoch: []int{2, 1}, Train: []float64{1, 2}, HeldOut: []float64{1, 2}}, PNG)
		}, "must increase"},
		{"tokens: no views", func() ([]byte, error) { return TokenRewards(nil, 0, PNG) }, "no responses"},
		{"tokens: zero tokens", func() ([]byte, error) {
			return TokenRewards(tv(func(v *TokenView) { v.Tokens, v.Delta, v.Rows = nil, nil, nil }), 0, PNG)
		}, "has no tokens"},
		{"tokens: delta mismatch", func() ([]byte, error) {
			return TokenRewards(tv(func(v *TokenView) { v.Delta = v.Delta[:2] }), 0, PNG)
		}, "Delta has 2 values but Tokens has 3"},
		{"tokens: row mismatch", func() ([]byte, error) {
			return TokenRewards(tv(func(v *TokenView) { v.Rows[2].Values = v.Rows[2].Values[:1] }), 0, PNG)
		}, `row 2 ("KL_t") has 1 values but Tokens has 3`},
		{"tokens: NaN delta", func() ([]byte, error) {
			return TokenRewards(tv(func(v *TokenView) { v.Delta[2] = nan }), 0, PNG)
		}, "Delta: value NaN at index 2"},
		{"tokens: Inf in row", func() ([]byte, error) {
			return TokenRewards(tv(func(v *TokenView) { v.Rows[1].Values[0] = math.Inf(-1) }), 0, PNG)
		}, `row 1 ("log π_pt"): value -Inf at index 0`},
		{"tokens: negative wrap", func() ([]byte, error) { return TokenRewards(tv(func(*TokenView) {}), -1, PNG) }, "maxTokensPerLine"},
		{"hist: no runs", func() ([]byte, error) { return LengthHistograms(nil, PNG) }, "no runs"},
		{"hist: no iterations", func() ([]byte, error) { return LengthHistograms([]LengthRun{{Name: "eos"}}, PNG) }, `"eos") has no iterations`},
		{"hist: no lengths", func() ([]byte, error) {
			return LengthHistograms([]LengthRun{{Name: "eos", Hists: []LengthHist{{Iteration: 5}}}}, PNG)
		}, "iteration 5 (histogram 0) has no lengths"},
		{"hist: negative", func() ([]byte, error) {
			return LengthHistograms([]LengthRun{{Name: "eos", Hists: []LengthHist{{Iteration: 5, Lengths: []int{3, -1}}}}}, PNG)
		}, "negative length -1 at index 1"},
		{"hist: duplicate iteration", func() ([]byte, error) {
			h := LengthHist{Iteration: 5, Lengths: []int{3}}
			return LengthHistograms([]LengthRun{{Name: "eos", Hists: []LengthHist{h, h}}}, PNG)
		}, "appears twice"},
		{"mean: no runs", func() ([]byte, error) { return MeanLengthCurves("t", "y", nil, PNG) }, "no runs"},
		{"mean: sd mismatch", func() ([]byte, error) {
			return MeanLengthCurves("t", "y", []MeanSD{{Name: "a", X: []float64{1, 2}, Mean: []float64{1, 2}, SD: []float64{1}}}, PNG)
		}, "SD has 1 values but X has 2"},
		{"mean: NaN", func() ([]byte, error) {
			return MeanLengthCurves("t", "y", []MeanSD{{Name: "a", X: []float64{1, 2}, Mean: []float64{1, nan}, SD: []float64{1, 1}}}, PNG)
		}, `"a") Mean: value NaN at index 1`},
		{"mean: negative sd", func() ([]byte, error) {
			return MeanLengthCurves("t", "y", []MeanSD{{Name: "a", X: []float64{1}, Mean: []float64{1}, SD: []float64{-1}}}, PNG)
		}, "negative value -1 at index 0"},
		{"scatter: empty", func() ([]byte, error) { return RewardVsLength("t", nil, nil, PNG) }, "no responses"},
		{"scatter: mismatch", func() ([]byte, error) { return RewardVsLength("t", []float64{1, 2}, []float64{1}, PNG) }, "rewards has 1 values but lengths has 2"},
		{"scatter: NaN", func() ([]byte, error) { return RewardVsLength("t", []float64{1, 2}, []float64{1, nan}, PNG) }, "rewards: value NaN at index 1"},
		{"bars: empty", func() ([]byte, error) { return GroupedBars("t", "y", nil, PNG) }, "no bars"},
		{"bars: NaN", func() ([]byte, error) { return GroupedBars("t", "y", []Bar{{"m", "g", nan, 0}}, PNG) }, `("m", "g") Mean/SD: value NaN at index 0`},
		{"bars: negative sd", func() ([]byte, error) { return GroupedBars("t", "y", []Bar{{"m", "g", 1, -1}}, PNG) }, "negative SD"},
		{"bars: duplicate", func() ([]byte, error) { return GroupedBars("t", "y", []Bar{{"m", "g", 1, 0}, {"m", "g", 2, 0}}, PNG) }, "repeated"},
		{"dashboard: no iterations", func() ([]byte, error) { return PPODashboard("t", Dashboard{}, PNG) }, "no iterations"},
		{"dashboard: no metrics", func() ([]byte, error) {
			return PPODashboard("t", Dashboard{Iteration: []float64{1}, Metrics: map[string][]float64{}}, PNG)
		}, "no metrics"},
		{"dashboard: mismatch", func() ([]byte, error) {
			return PPODashboard("t", Dashboard{Iteration: []float64{1, 2}, Metrics: map[string][]float64{"kl": {1}}}, PNG)
		}, `metric "kl" has 1 values but Iteration has 2`},
		{"dashboard: NaN", func() ([]byte, error) {
			return PPODashboard("t", Dashboard{Iteration: []float64{1, 2}, Metrics: map[string][]float64{"foo": {1, nan}}}, PNG)
		}, `metric "foo": value NaN at index 1`},
	}
	runInvalidCases(t, tests)
}

// TestEdgeCases renders inputs that are valid but unusual: they must give an
// image, not an error or a panic.
func TestEdgeCases(t *testing.T) {
	one := []float64{1}
	tests := []struct {
		name string
		run  func(Format) ([]byte, error)
	}{
		{"curves: single point, constant", func(f Format) ([]byte, error) {
			return TrainingCurves("t", []Panel{{Title: "p", Series: []Series{{Name: "s", X: one, Y: one}}}}, 0, f)
		}},
		{"curves: control characters and markup in titles", func(f Format) ([]byte, error) {
			return TrainingCurves("a\x00b <svg> & \xff", []Panel{{Title: "p\x1b[0m", XLabel: "x\ty", YLabel: "two\nlines",
				Series: []Series{{Name: "s\x00", X: one, Y: one}, {Name: "</text>", X: one, Y: one}}}}, 0, f)
		}},
		{"overfit: one epoch", func(f Format) ([]byte, error) {
			return OverfittingCurve("t", EpochLosses{Epoch: []int{0}, Train: one, HeldOut: one, Best: 0}, f)
		}},
		{"tokens: one token, no rows, all zero", func(f Format) ([]byte, error) {
			return TokenRewards([]TokenView{{Title: "z", Tokens: []string{"<eos>"}, Delta: []float64{0}}}, 0, f)
		}},
		{"tokens: odd strings", func(f Format) ([]byte, error) {
			toks := []string{"", "\x00\x01", "<&>\"'", "\xff\xfe", "line\nbreak", strings.Repeat("w", 80)}
			v := tokenView("odd </text> title & <b>\x01\xff", toks, 3)
			return TokenRewards([]TokenView{v}, 3, f)
		}},
		{"tokens: very long response, narrow lines", func(f Format) ([]byte, error) {
			toks := make([]string, 500)
			for i := range toks {
				toks[i] = fmt.Sprint(i % 10)
			}
			return TokenRewards([]TokenView{tokenView("long", toks, 4)}, 100, f)
		}},
		{"hist: one run, iterations differ", func(f Format) ([]byte, error) {
			return LengthHistograms([]LengthRun{
				{Name: "a", Hists: []LengthHist{{Iteration: 0, Lengths: []int{0, 0}}}},
				{Name: "b", Hists: []LengthHist{{Iteration: 3, Lengths: []int{500, 2}}}},
			}, f)
		}},
		{"scatter: equal lengths", func(f Format) ([]byte, error) {
			return RewardVsLength("t", []float64{24, 24, 24}, []float64{1, 2, 3}, f)
		}},
		{"scatter: one point", func(f Format) ([]byte, error) { return RewardVsLength("t", one, one, f) }},
		{"bars: negative means, zero sd, gaps", func(f Format) ([]byte, error) {
			return GroupedBars("t", "Δ EM", []Bar{{"a", "g1", -0.2, 0}, {"b", "g2", 0.3, 0.1}, {"a", "a very long split name indeed", 0.1, 0.05}}, f)
		}},
		{"dashboard: one metric, one iteration", func(f Format) ([]byte, error) {
			return PPODashboard("t", Dashboard{Iteration: []float64{0}, Metrics: map[string][]float64{"kl": {0}}}, f)
		}},
	}
	for _, tc := range tests {
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
			if dir := os.Getenv("PLOTTING_GALLERY"); dir != "" {
				name := "edge_" + strings.NewReplacer(" ", "_", ":", "", ",", "").Replace(tc.name) + ".png"
				if err := WriteFile(filepath.Join(dir, name), b); err != nil {
					t.Fatal(err)
				}
			}
			s, err := tc.run(SVG)
			if err != nil {
				t.Fatal(err)
			}
			checkXML(t, s)
		})
	}
}

func TestLinearFit(t *testing.T) {
	tests := []struct {
		name                string
		x, y                []float64
		slope, intercept, r float64
		wantErr             string
	}{
		// y = 2x + 1 exactly.
		{"exact line", []float64{0, 1, 2, 3}, []float64{1, 3, 5, 7}, 2, 1, 1, ""},
		// x = 1..5, y = 2,4,5,4,5: mean x 3, mean y 4, Sxx 10, Sxy 6, Syy 6:
		// slope 0.6, intercept 2.2, r = 6/sqrt(60).
		{"textbook", []float64{1, 2, 3, 4, 5}, []float64{2, 4, 5, 4, 5}, 0.6, 2.2, 6 / math.Sqrt(60), ""},
		{"negative", []float64{0, 1, 2}, []float64{3, 2, 1}, -1, 3, -1, ""},
		{"constant y", []float64{0, 1, 2}, []float64{5, 5, 5}, 0, 5, 0, ""},
		{"constant x", []float64{2, 2}, []float64{1, 3}, 0, 0, 0, "all x values are equal"},
		{"one point", []float64{1}, []float64{1}, 0, 0, 0, "at least 2"},
		{"mismatch", []float64{1, 2}, []float64{1}, 0, 0, 0, "x has 2 values but y has 1"},
		{"NaN", []float64{1, math.NaN()}, []float64{1, 2}, 0, 0, 0, "x: value NaN at index 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, i, r, err := LinearFit(tc.x, tc.y)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			const eps = 1e-12
			if math.Abs(s-tc.slope) > eps || math.Abs(i-tc.intercept) > eps || math.Abs(r-tc.r) > eps {
				t.Errorf("got slope %v intercept %v r %v, want %v %v %v", s, i, r, tc.slope, tc.intercept, tc.r)
			}
		})
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fig.png")
	for _, data := range [][]byte{[]byte("first"), []byte("second, longer")} {
		if err := WriteFile(path, data); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back %q, %v; want %q", got, err, data)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "fig.png"), []byte("x")); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

func TestLabel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abc", "abc"},
		{"", "''"},
		{" the", "·the"},
		{"a\nb", `a\nb`},
		{"\x00", `\u0000`},
		{"\xff", `\xff`},
		{"abcdefghijklmnop", "abcdefghijk…"},
		{"π_sft", "π_sft"},
	}
	for _, tc := range tests {
		if got := label(tc.in, 12, true); got != tc.want {
			t.Errorf("label(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestGlyphs checks that the embedded font has the symbols the figures use,
// so they do not render as empty boxes.
func TestGlyphs(t *testing.T) {
	for _, bold := range []bool{false, true} {
		face := plain.Cache().Lookup(fontOf(10, bold), 10)
		var buf sfnt.Buffer
		for _, r := range "πΔΣθ‖−→·…±λ" {
			i, err := face.Face.GlyphIndex(&buf, r)
			if err != nil || i == 0 {
				t.Errorf("bold=%v: no glyph for %q (%v)", bold, r, err)
			}
		}
	}
}

func TestEmbeddedFonts(t *testing.T) {
	b, err := OverfittingCurve("x", sampleEpochs(), SVG, WithEmbeddedFonts())
	if err != nil {
		t.Fatal(err)
	}
	checkXML(t, b)
	if !bytes.Contains(b, []byte("@font-face")) || len(b) < 100_000 {
		t.Errorf("no embedded font in %d bytes", len(b))
	}
}

func TestDeterministicSVG(t *testing.T) {
	a, err := TokenRewards(sampleTokenViews(), 0, SVG)
	if err != nil {
		t.Fatal(err)
	}
	b, err := TokenRewards(sampleTokenViews(), 0, SVG)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two renders of the same input differ")
	}
}

// TestMeanLengthBandLegend: the "± 1 sd" legend entry appears only when some band has a width
// (several seeds), not for one seed's curves.
func TestMeanLengthBandLegend(t *testing.T) {
	curve := func(sd float64) []MeanSD {
		return []MeanSD{{Name: "eos", X: []float64{0, 1}, Mean: []float64{2, 3}, SD: []float64{sd, sd}}}
	}
	for _, tc := range []struct {
		sd   float64
		want bool
	}{{0, false}, {0.5, true}} {
		svg, err := MeanLengthCurves("t", "tokens", curve(tc.sd), SVG)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(svg), "1 sd"); got != tc.want {
			t.Errorf("sd %v: legend names the sd band: %v, want %v", tc.sd, got, tc.want)
		}
	}
}

// TestTokenRewardsTitleAndShadeFloor: WithTitle replaces the Δ_t title, and a strip of float
// noise (|KL| ≤ 1e-7) is shaded against shadeFloor, so it stays near white.
func TestTokenRewardsTitleAndShadeFloor(t *testing.T) {
	svg, err := TokenRewards(sampleTokenViews(), 0, SVG, WithTitle("Advantages per token"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(svg), "Advantages per token") || strings.Contains(string(svg), "Per-token reward") {
		t.Error("WithTitle did not replace the title")
	}
	if c := diverging(1e-7, math.Max(1e-7, shadeFloor)); c.R < 0xF0 || c.G < 0xF0 || c.B < 0xF0 {
		t.Errorf("a 1e-7 KL cell is shaded %v against the floor, want near white", c)
	}
}

// TestStyleSlots: a method keeps its style slot whatever the figure and its order — its name,
// its T1 label or one of its run names — and other series take the free slots.
func TestStyleSlots(t *testing.T) {
	for _, tc := range []struct {
		names []string
		want  []int
	}{
		{[]string{"SRPPO-eos", "SRPPO-token", "oracle-PPO"}, []int{0, 1, 2}},
		{[]string{"token", "eos"}, []int{1, 0}},
		{[]string{"token-N64-s1", "eos-N64-s1 (eos)"}, []int{1, 0}},
		{[]string{"token_lambda1-N64-s1", "token_whitened-N16-s2", "zero"}, []int{9, 10, 6}},
		{[]string{"token_lambda=1-N64-s1", "token λ=1"}, []int{9, 0}},
		{[]string{"train", "eos", "held-out"}, []int{1, 0, 2}},
		{[]string{"SFT", "SFT-long", "PT zero-shot", "pool: new id"}, []int{3, 4, 5, 0}},
	} {
		if got := styleSlots(tc.names); !slices.Equal(got, tc.want) {
			t.Errorf("styleSlots(%q) = %v, want %v", tc.names, got, tc.want)
		}
	}
}
