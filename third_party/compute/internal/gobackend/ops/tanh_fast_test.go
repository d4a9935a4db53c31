// GOSRPPO PATCH: the float32 Tanh op uses fastmath.Tanh32; check it against the float64 math.Tanh path.

package ops

import (
	"math"
	"testing"
)

func TestTanhFloat32VsFloat64(t *testing.T) {
	in32 := make([]float32, 0, 200_001)
	for i := -100_000; i <= 100_000; i++ {
		in32 = append(in32, float32(i)*2e-4) // [-20, 20]
	}
	in32 = append(in32, 1e-30, -1e-30, 1e-6, -3e-5)
	in64 := make([]float64, len(in32))
	for i, x := range in32 {
		in64[i] = float64(x)
	}
	out32, out64 := make([]float32, len(in32)), make([]float64, len(in64))
	execTanhGeneric(in32, out32)
	execTanhGeneric(in64, out64)
	for i := range out32 {
		if err := math.Abs(float64(out32[i]) - out64[i]); err > 2e-7 {
			t.Fatalf("Tanh(%g): float32 path %g, float64 path %g, error %g > 2e-7", in32[i], out32[i], out64[i], err)
		}
	}
}
