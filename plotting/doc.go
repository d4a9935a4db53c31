// Package plotting draws the figures used to inspect Self-Rewarding PPO
// (SRPPO) runs: training curves, the SFT overfitting curve, the per-token
// reward view, length-bias figures, results tables as grouped bars and a
// one-image PPO dashboard.
//
// Every figure is one function that takes plain Go values (slices, small
// structs defined here; callers convert their own types) and returns the
// encoded image as PNG or SVG bytes:
//
//	TrainingCurves     any named metric series vs step, several panels in a grid
//	OverfittingCurve   SFT train vs held-out loss per epoch, best epoch marked
//	TokenRewards       one or several responses token by token: Δ_t bars and
//	                   heat strips for log π_sft, log π_pt, KL_t, value, advantage...
//	LengthHistograms   response-length histograms, one column per run, one row per iteration
//	MeanLengthCurves   mean ± sd of a quantity (e.g. length) vs iteration for several runs
//	RewardVsLength     reward vs length scatter with the least-squares line (see LinearFit)
//	GroupedBars        results table as grouped bars with ±sd error bars
//	HeatMap            a 2-D grid (e.g. β × chat exposure) as cells on a diverging
//	                   scale centred at 0, value and ± sd written in each cell
//	ScatterErrors      points with x and y error bars and labels, one colour per
//	                   series, optional reference lines (WithHLine)
//	PPODashboard       the panels a researcher checks every PPO iteration
//
// Figures are about 9 inches wide and rendered at 100 dpi, so PNGs are about
// 900 pixels wide, which fits a notebook cell; the height follows the
// content. WithSize and WithDPI override the defaults. The palette is
// Okabe–Ito (colour-blind safe): blue marks positive and vermillion negative
// values wherever a sign is shown. Output is deterministic: the same input
// gives the same bytes. Invalid input (empty series, NaN or ±Inf values,
// slices of different lengths) gives an error that names the series and the
// index, never a panic or a blank image.
//
// The package does not depend on GoNB. In a GoNB notebook display the bytes
// with gonbui:
//
//	png, err := plotting.TrainingCurves("SFT", panels, 2, plotting.PNG)
//	if err != nil {
//		panic(err)
//	}
//	gonbui.DisplayPNG(png)
//
// or request plotting.SVG and call gonbui.DisplaySVG(string(svg)). WriteFile
// saves the bytes atomically, for example for a report.
package plotting
