package plotting_test

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/gosrppo/gosrppo/plotting"
)

// In a GoNB notebook, pass the bytes to gonbui.DisplayPNG (or request SVG and
// call gonbui.DisplaySVG(string(svg))); here they are written to a file.
func ExampleTokenRewards() {
	view := plotting.TokenView{
		Title:  "REV a b c → c b a",
		Tokens: []string{"c", "b", "a", "<eos>"},
		Delta:  []float64{0.15, 3.86, 0.44, 6.3},
		Rows: []plotting.TokenRow{
			{Label: "log π_sft", Values: []float64{-1.06, -0.63, -0.96, -1.2}},
			{Label: "log π_pt", Values: []float64{-1.21, -4.49, -1.4, -7.5}},
		},
	}
	png, err := plotting.TokenRewards([]plotting.TokenView{view}, 0, plotting.PNG)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := plotting.WriteFile(filepath.Join(os.TempDir(), "tokens.png"), png); err != nil {
		fmt.Println(err)
	}
}

func ExampleTrainingCurves() {
	steps := []float64{0, 100, 200, 300}
	panels := []plotting.Panel{
		{Title: "SFT loss", XLabel: "step", YLabel: "loss (nats/token)", Series: []plotting.Series{
			{Name: "train", X: steps, Y: []float64{2.9, 1.4, 0.9, 0.7}},
			{Name: "validation", X: steps, Y: []float64{3.0, 1.6, 1.2, 1.1}},
		}},
		{Title: "EOS rate", XLabel: "step", YLabel: "% of responses", Series: []plotting.Series{
			{Name: "EOS %", X: steps, Y: []float64{6, 80, 99, 100}},
		}},
	}
	svg, err := plotting.TrainingCurves("SFT on 64 demos", panels, 2, plotting.SVG)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(svg) > 0)
	// Output: true
}

func ExampleLinearFit() {
	slope, intercept, r, err := plotting.LinearFit([]float64{1, 2, 3, 4, 5}, []float64{2, 4, 5, 4, 5})
	fmt.Printf("%.2f %.2f %.3f %v\n", slope, intercept, r, err)
	// Output: 0.60 2.20 0.775 <nil>
}

// A mechanism-sweep grid: EM gain over SFT (points, mean ± sd over seeds) for
// each KL coefficient β (rows, bottom to top) and chat exposure f (columns).
func ExampleHeatMap() {
	grid := plotting.HeatGrid{
		XTicks: []string{"f = 0", "f = 0.1", "f = 0.3"},
		YTicks: []string{"β = 0.05", "β = 0.2", "β = 1"},
		Values: [][]float64{{-4.1, 0.5, 3.2}, {-0.4, 1.7, 6.3}, {0.2, math.NaN(), 8.9}},
		SD:     [][]float64{{1.1, 0.5, 1.2}, {0.9, 0.8, 2.1}, {0.4, 0, 1.5}},
		Unit:   "pts",
	}
	svg, err := plotting.HeatMap("EM gain over SFT, ood_op", "chat exposure f", "KL coefficient β", grid, plotting.SVG)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(bytes.Contains(svg, []byte("+3.2")), bytes.Contains(svg, []byte("±1.1")))
	// Output: true true
}

func ExampleScatterErrors() {
	series := []plotting.ErrSeries{
		{Name: "KL β", Points: []plotting.ErrPoint{
			{X: 1.5, Y: 0.46, XErr: 2.1, YErr: 0.03, Label: "β=0.05"},
			{X: 5.2, Y: 0.55, XErr: 1.5, YErr: 0.04, Label: "β=1"},
		}},
		{Name: "shaping", Points: []plotting.ErrPoint{{X: 2.0, Y: 0.51, XErr: 1.0, YErr: 0.02, Label: "eos_mean"}}},
	}
	_, err := plotting.ScatterErrors("Pairwise accuracy vs EM gain", "EM gain over SFT (pts)", "pairwise accuracy",
		series, plotting.PNG, plotting.WithHLine(0.5, "chance"))
	fmt.Println(err)
	// Output: <nil>
}
