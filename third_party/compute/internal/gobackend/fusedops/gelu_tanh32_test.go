// GOSRPPO PATCH: the float32 approximate GELU uses fastmath.Tanh32; check it against the float64 path.

package fusedops

import (
	"math"
	"testing"
)

func TestGeluApproxFloat32VsFloat64(t *testing.T) {
	in32 := make([]float32, 0, 100_001)
	for i := -50_000; i <= 50_000; i++ {
		in32 = append(in32, float32(i)*2e-4) // [-10, 10]
	}
	in64 := make([]float64, len(in32))
	for i, x := range in32 {
		in64[i] = float64(x)
	}
	out32, out64 := make([]float32, len(in32)), make([]float64, len(in64))
	geluApproxChunk(in32, out32)
	geluApproxChunk(in64, out64)
	for i := range out32 {
		// Error of tanh (<= 2e-7 absolute) is scaled by |x|/2, plus float32 rounding of the rest.
		tol := 2e-7*math.Abs(in64[i]) + 4e-7*math.Abs(out64[i]) + 1e-7
		if err := math.Abs(float64(out32[i]) - out64[i]); err > tol {
			t.Fatalf("GeluApprox(%g): float32 %g, float64 %g, error %g > %g", in32[i], out32[i], out64[i], err, tol)
		}
	}
}
