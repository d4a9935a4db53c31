package study

import (
	"math"
	"slices"
	"testing"

	"github.com/gosrppo/gosrppo/plotting"
	"github.com/gosrppo/gosrppo/srppo"
)

func TestTrainingLogPanels(t *testing.T) {
	log := &TrainLog{Step: []int{1, 2, 3}, Loss: []float64{3, 2, 1}, Result: &srppo.TrainResult{Curve: []srppo.EpochStat{
		{Epoch: 0, TrainLoss: 2.5, HeldOut: 2.4}, {Epoch: 1, TrainLoss: 1.5, HeldOut: srppo.Float(math.NaN())}}}}
	ps, err := TrainingLogPanels(log)
	if err != nil || len(ps) != 2 || !slices.Equal(ps[0].Series[0].X, []float64{1, 2, 3}) || !slices.Equal(ps[1].Series[1].Y, []float64{2.4}) {
		t.Fatalf("panels %+v, %v", ps, err)
	}
	if _, err := plotting.TrainingCurves("pretraining", ps, 2, plotting.SVG); err != nil {
		t.Error(err)
	}
	log.Result = nil
	if ps, err := TrainingLogPanels(log); err != nil || len(ps) != 1 {
		t.Errorf("no result: %d panels, %v", len(ps), err)
	}
	if _, err := TrainingLogPanels(&TrainLog{}); err == nil {
		t.Error("empty log: no error")
	}
	if _, err := TrainingLogPanels(&TrainLog{Step: []int{1}}); err == nil {
		t.Error("steps without losses: no error")
	}
}
