// gosrppo patch: layernorm_rows.go against the per-row code it stands in for.

package fusedops

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestLayerNormRowsMatchesTrailingAxes compares layerNormTrailingAxesRows with layerNormTrailingAxes
// bit for bit over random row counts (around the groups of 4) and widths (around the 16 lanes), with
// and without gamma and beta, out of place and in place.
func TestLayerNormRowsMatchesTrailingAxes(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for c := range 400 {
		rows, width := 1+rng.IntN(13), 1+rng.IntN(70)
		if c == 0 {
			rows, width = 128, 256 // decoding at d256
		}
		in := make([]float32, rows*width)
		for i := range in {
			in[i] = float32(rng.NormFloat64()*3 + 1)
		}
		var gamma, beta []float32
		if rng.IntN(4) != 0 {
			gamma = make([]float32, width)
			for i := range gamma {
				gamma[i] = float32(rng.NormFloat64())
			}
		}
		if rng.IntN(4) != 0 {
			beta = make([]float32, width)
			for i := range beta {
				beta[i] = float32(rng.NormFloat64())
			}
		}
		eps := []float64{1e-5, 1e-6, 0.1}[c%3]
		want := make([]float32, len(in))
		layerNormTrailingAxes(in, want, gamma, beta, width, eps)
		got := make([]float32, len(in))
		layerNormTrailingAxesRows(in, got, gamma, beta, width, eps)
		inPlace := slices.Clone(in)
		layerNormTrailingAxesRows(inPlace, inPlace, gamma, beta, width, eps)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) || math.Float32bits(inPlace[i]) != math.Float32bits(want[i]) {
				t.Fatalf("rows %d width %d gamma %v beta %v: element %d = %g (in place %g), want %g",
					rows, width, gamma != nil, beta != nil, i, got[i], inPlace[i], want[i])
			}
		}
	}
}
