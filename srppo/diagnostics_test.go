package srppo

import (
	"math"
	"testing"

	"github.com/gosrppo/gosrppo/datasets"
)

// handSamples: one split, two items, K = 3. Rewards and lengths are chosen so that r = 1 + 2·T
// exactly except for a content offset: the right answers sit 0.5 below the line, the wrong
// ones on it — a reward that prefers length, and wrong answers once length is accounted for.
//
//	item 0: correct T=2 r=4.5 | wrong T=2 r=5   | wrong T=3 r=7
//	item 1: correct T=3 r=6.5 | correct T=1 r=2.5 | wrong T=1 r=3
func handSamples() *RewardSamples {
	rs := &RewardSamples{K: 3, eos: datasets.EOSID,
		Items: []datasets.EvalItem{{Prompt: "p0", Answer: "x", Split: "s"}, {Prompt: "p1", Answer: "y", Split: "s"}}}
	add := func(T int, r float64, exact bool) {
		toks := make([]int32, T)
		delta := make([]float32, T)
		for t := range T {
			toks[t] = 7
			delta[t] = float32(r / float64(T))
		}
		toks[T-1] = datasets.EOSID
		rs.Tokens, rs.Delta, rs.Exact = append(rs.Tokens, toks), append(rs.Delta, delta), append(rs.Exact, exact)
	}
	add(2, 4.5, true)
	add(2, 5, false)
	add(3, 7, false)
	add(3, 6.5, true)
	add(1, 2.5, true)
	add(1, 3, false)
	return rs
}

func TestLengthDiagnosticsHandWorked(t *testing.T) {
	rs := handSamples()
	ld := rs.LengthDiagnostics()
	if len(ld) != 1 || ld[0].Split != "s" {
		t.Fatalf("splits: %+v", ld)
	}
	d := ld[0]
	// T = 2,2,3,3,1,1 (mean 2); r = 4.5,5,7,6.5,2.5,3 (mean 4.75).
	// Σ(T−2)(r−4.75) = 0 + 0 + 2.25 + 1.75 + 2.25 + 1.75 = 8; Σ(T−2)² = 4 → slope 2, intercept 0.75.
	// Σ(r−4.75)² = 0.0625+0.0625+5.0625+3.0625+5.0625+3.0625 = 16.375 → corr 8/√(4·16.375).
	want := map[string]float64{"slope": 2, "intercept": 0.75, "corr": 8 / math.Sqrt(4*16.375), "mean_delta": 28.5 / 12}
	got := map[string]float64{"slope": float64(d.Slope), "intercept": float64(d.Intercept), "corr": float64(d.Corr), "mean_delta": float64(d.MeanDelta)}
	for k, w := range want {
		if math.Abs(got[k]-w) > 1e-5 {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
	// Pairs (correct, wrong): item 0: (4.5@2 vs 5@2), (4.5@2 vs 7@3); item 1: (6.5@3 vs 3@1), (2.5@1 vs 3@1).
	// Raw wins: 6.5 > 3 only → 1/4 (T3's pairwise accuracy).
	// Same length: (4.5 vs 5), (2.5 vs 3) → 0/2.
	// Detrended r − 2T: correct ones −0.5 below wrong ones everywhere except none → 0/4.
	if d.Pairs != 4 || d.PairsSameLen != 2 {
		t.Errorf("pairs %d, same-length pairs %d; want 4 and 2", d.Pairs, d.PairsSameLen)
	}
	if d.PairwiseAccSameLen != 0 || d.PairwiseAccDetrended != 0 {
		t.Errorf("same-length accuracy %v, detrended %v; want 0 and 0", d.PairwiseAccSameLen, d.PairwiseAccDetrended)
	}
	if t3 := rs.Diagnostics(); t3[0].PairwiseAcc != 0.25 || t3[0].Pairs != 4 || t3[0].Pass1 != 0.5 || t3[0].BestOfK != 0.5 || t3[0].PassK != 1 {
		t.Errorf("T3 of the same samples: %+v; want pairwise 0.25 over 4 pairs, pass@1 0.5, best-of-K 0.5 (item 0's best r is wrong, item 1's right), pass@K 1", t3[0])
	}
	if got, want := rs.MeanDeltaPerToken(), 28.5/12; math.Abs(got-want) > 1e-6 {
		t.Errorf("mean Δ per token %v, want %v", got, want)
	}
}

func TestBaselineDeltaShapesEveryPlacement(t *testing.T) {
	delta := []float32{1, 2, 3, 6}
	shaped := BaselineDelta(delta, 3)
	for i, w := range []float32{-2, -1, 0, 3} {
		if shaped[i] != w {
			t.Fatalf("BaselineDelta = %v, want [-2 -1 0 3]", shaped)
		}
	}
	// eos: Σ(Δ_t − b) = r − b·T = 12 − 12 = 0; eos_mean: 3 − 3 = 0.
	if got := PlaceEOSReward(shaped); got[3] != 0 {
		t.Errorf("eos with baseline: %v", got)
	}
	if got := PlaceEOSMeanReward(shaped); got[3] != 0 {
		t.Errorf("eos_mean with baseline: %v", got)
	}
	if delta[0] != 1 {
		t.Error("BaselineDelta changed its input")
	}
}
