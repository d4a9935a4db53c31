package srppo

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
)

// ErrDiverged is wrapped by the error returned when a loss explodes while staying finite.
var ErrDiverged = errors.New("loss diverged")

// Divergence thresholds. With level = max(running median of the recent accepted losses, the
// loss's floor), a loss is suspect above suspectFactor × level and diverged above divergeFactor ×
// level or above the loss's absolute cap. The floor keeps a loss that has become tiny (an SFT run
// memorising its demonstrations) from making an ordinary batch look like an explosion.
const (
	divergeWindow    = 50   // losses in the running median
	divergeMinLosses = 10   // losses needed before the relative tests apply
	suspectFactor    = 10.0 // a checkpoint whose next loss exceeds this × level is not kept
	divergeFactor    = 1e3
)

// lossScale is the cap and floor of one kind of loss.
type lossScale struct{ cap, floor float64 }

var (
	// nllScale: the next-token loss in nats per token is ≈ ln vocab at initialisation (≤ 15).
	nllScale = lossScale{cap: 1e4, floor: 0.1}
	// valueScale: the critic's loss is a squared error of returns, sums of per-token rewards.
	valueScale = lossScale{cap: 1e10, floor: 1e-2}
	// policyScale: the clipped surrogate is advantage-sized (whitened advantages: order 1).
	policyScale = lossScale{cap: 1e6, floor: 1e-2}
)

// lossMonitor keeps the running level of a loss.
type lossMonitor struct {
	Recent []float64 `json:"recent,omitempty"` // the last divergeWindow accepted losses (absolute values)
}

// median of the recent losses (NaN when too few to judge).
func (lm *lossMonitor) median() float64 {
	if len(lm.Recent) < divergeMinLosses {
		return math.NaN()
	}
	s := slices.Clone(lm.Recent)
	slices.Sort(s)
	return s[len(s)/2]
}

// judge classifies a loss: diverged (with the reason), or suspect (finite but far above the
// running level), relative to the losses accepted so far; cap ≤ 0 means no absolute cap.
func (lm *lossMonitor) judge(loss float64, sc lossScale) (diverged bool, suspect bool, why string) {
	a := math.Abs(loss)
	if a > sc.cap {
		return true, true, fmt.Sprintf("%.3g exceeds the cap of %.0g", loss, sc.cap)
	}
	if med := lm.median(); !math.IsNaN(med) {
		level := max(med, sc.floor)
		if a > divergeFactor*level {
			return true, true, fmt.Sprintf("%.3g is more than %.0f× its running level %.3g (median of the last %d)", loss, divergeFactor, level, len(lm.Recent))
		}
		return false, a > suspectFactor*level, ""
	}
	return false, false, ""
}

// accept adds a loss to the running level.
func (lm *lossMonitor) accept(loss float64) {
	lm.Recent = append(lm.Recent, math.Abs(loss))
	if len(lm.Recent) > divergeWindow {
		lm.Recent = lm.Recent[len(lm.Recent)-divergeWindow:]
	}
}

// keptCheckpoint describes what an interrupted run leaves for resumption, naming a directory
// only when it exists.
func keptCheckpoint(dir, stateFile string) string {
	return keptCheckpointAs(dir, stateFile, "the last checkpoint whose next step was finite")
}

// keptCheckpointAs is keptCheckpoint describing the checkpoint as what.
func keptCheckpointAs(dir, stateFile, what string) string {
	if dir == "" {
		return "no checkpoint directory was configured"
	}
	if _, err := os.Stat(filepath.Join(resolveCheckpointDir(dir), stateFile)); err != nil {
		return "no checkpoint was written before it, so there is nothing to resume"
	}
	return what + " is kept in " + resolveCheckpointDir(dir)
}
