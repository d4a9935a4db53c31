// gosrppo patch: the float32 Tanh and Exp ops' vector kernels against the per-element code they replaced.

package ops

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/internal/fastmath"
)

func TestTanhFloat32MatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	in := make([]float32, 100_003)
	for i := range in {
		in[i] = float32(rng.NormFloat64() * math.Exp2(float64(rng.IntN(12)-6)))
	}
	in[7], in[8], in[9] = 0, float32(math.Copysign(0, -1)), float32(math.NaN())
	want := make([]float32, len(in))
	execTanhGeneric(in, want)
	got := make([]float32, len(in))
	fastmath.TanhFloat32s(got, in)
	for i := range in {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
			t.Fatalf("tanh(%g) = %g, generic %g", in[i], got[i], want[i])
		}
	}
}

func TestExpFloat32MatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	in := make([]float32, 100_003)
	for i := range in {
		in[i] = float32(rng.NormFloat64() * math.Exp2(float64(rng.IntN(14)-6)))
	}
	in[7], in[8], in[9], in[10] = 0, float32(math.NaN()), -100, 100
	want := make([]float32, len(in))
	execExpGeneric(in, want)
	got := make([]float32, len(in))
	fastmath.ExpFloat32s(got, in)
	for i := range in {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
			t.Fatalf("exp(%g) = %g, generic %g", in[i], got[i], want[i])
		}
	}
}
