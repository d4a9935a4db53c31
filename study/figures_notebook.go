package study

import (
	"fmt"
	"math"

	"github.com/gosrppo/gosrppo/plotting"
)

// TrainingLogPanels turns a training log (Notebook's pretraining or SFT log) into
// plotting.TrainingCurves panels: the loss of every step, and — when some epoch has a held-out loss — the
// train and held-out loss per epoch.
func TrainingLogPanels(log *TrainLog) ([]plotting.Panel, error) {
	if log == nil || len(log.Step) == 0 {
		return nil, fmt.Errorf("training log has no steps")
	}
	if len(log.Loss) != len(log.Step) {
		return nil, fmt.Errorf("training log has %d steps but %d losses", len(log.Step), len(log.Loss))
	}
	step := make([]float64, len(log.Step))
	for i, s := range log.Step {
		step[i] = float64(s)
	}
	panels := []plotting.Panel{{Title: "loss per step", XLabel: "step", YLabel: "loss (nats/token)",
		Series: []plotting.Series{{Name: "train", X: step, Y: log.Loss}}}}
	if log.Result == nil {
		return panels, nil
	}
	var ep, train, held []float64
	for _, e := range log.Result.Curve {
		if h := float64(e.HeldOut); !math.IsNaN(h) && !math.IsInf(h, 0) {
			ep, train, held = append(ep, float64(e.Epoch+1)), append(train, e.TrainLoss), append(held, h)
		}
	}
	if len(ep) > 0 {
		panels = append(panels, plotting.Panel{Title: "loss per epoch", XLabel: "epoch", YLabel: "loss (nats/token)", Series: []plotting.Series{
			{Name: "train", X: ep, Y: train}, {Name: "held-out", X: ep, Y: held}}})
	}
	return panels, nil
}
