// GOSRPPO PATCH (see GOSRPPO_PATCHES.md): float32 tanh without the float64 math.Tanh.

package fastmath

import "math"

// Tanh32 approximates tanh(x) for float32.
//
// Algorithm (Cephes-style tanhf):
//   - |x| < 1e-4: tanh(x) = x (the x³/3 term is below half an ulp); also keeps -0 and subnormals.
//   - |x| < 0.625: odd minimax polynomial x + x·z·P(z), z = x² (Cephes tanhf coefficients).
//   - |x| > 9: ±1 (1 - tanh(9) ≈ 3e-8, below half a float32 ulp of 1).
//   - otherwise: 1 - 2/(e^{2|x|} + 1) with Exp32, sign restored.
//
// Accuracy vs math.Tanh: max absolute error ≤ 2e-7 over the float32 range (see TestTanh32),
// not bit-identical to float32(math.Tanh(float64(x))). NaN in, NaN out; ±Inf give ±1.
func Tanh32(x float32) float32 {
	ax := x
	if ax < 0 {
		ax = -ax
	}
	switch {
	case ax < 1e-4:
		return x // Includes ±0.
	case ax < 0.625:
		const (
			c9 = -5.70498872745e-3
			c7 = 2.06390887954e-2
			c5 = -5.37397155531e-2
			c3 = 1.33314422036e-1
			c1 = -3.33332819422e-1
		)
		z := x * x
		return ((((c9*z+c7)*z+c5)*z+c3)*z+c1)*z*x + x
	case ax > 9:
		return float32(math.Copysign(1, float64(x)))
	case ax <= 9:
		// Evaluate the final step in float64 to avoid accumulating float32 rounding errors.
		e := float64(Exp32(2 * ax))
		t := float32(1 - 2/(e+1))
		if x < 0 {
			return -t
		}
		return t
	default:
		return x // NaN.
	}
}
