// gosrppo patch: the float32 tanh-form GELU's vector kernel against the per-element code it replaced.

package fusedops

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/internal/fastmath"
)

func TestGeluTanhFloat32MatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	in := make([]float32, 100_003)
	for i := range in {
		in[i] = float32(rng.NormFloat64() * math.Exp2(float64(rng.IntN(12)-6)))
	}
	in[7], in[8], in[9] = 0, float32(math.Copysign(0, -1)), float32(math.NaN())
	want := make([]float32, len(in))
	geluApproxChunk(in, want)
	got := make([]float32, len(in))
	fastmath.GeluTanhFloat32s(got, in)
	for i := range in {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
			t.Fatalf("gelu(%g) = %g, generic %g", in[i], got[i], want[i])
		}
	}
}
