// gosrppo patch: float32 exp, tanh and GELU (tanh form) kernels that return exactly what the
// upstream per-element code returns, faster where AVX-512 is available (exact32_simd_amd64.go).

package fastmath

import "math"

// TanhFloat32s sets out[i] = float32(math.Tanh(float64(in[i]))) for i < len(out), bit for bit the
// Go backend's per-element Tanh on float32, for every float32 input (TestFloat32sAllInputs).
//
// The vector path evaluates tanh in float64 lanes (E/(E+2) with E = e^{2|x|} − 1 from its own
// range-reduced series) and rounds to float32. Its float64 value can differ from math.Tanh's in the
// last bits, which can change the float32 rounding only when the value lies within that error of a
// float32 rounding midpoint; such lanes (and NaN, zero and tiny inputs) are recomputed with math.Tanh.
// Other builds use math.Tanh throughout.
func TanhFloat32s(out, in []float32) {
	in = in[:len(out)]
	for i := tanhFloat32sVector(out, in); i < len(out); i++ {
		out[i] = float32(math.Tanh(float64(in[i])))
	}
}

// ExpFloat32s sets out[i] = float32(math.Exp(float64(in[i]))) for i < len(out), bit for bit the Go
// backend's per-element Exp on float32, for every float32 input (TestExpFloat32sAllInputs), by the
// same method as TanhFloat32s: e^x in float64 lanes, lanes near a float32 rounding midpoint or outside
// float32's normal range recomputed with math.Exp.
func ExpFloat32s(out, in []float32) {
	in = in[:len(out)]
	for i := expFloat32sVector(out, in); i < len(out); i++ {
		out[i] = float32(math.Exp(float64(in[i])))
	}
}

// SqrtFloat32s sets out[i] = float32(math.Sqrt(float64(in[i]))) for i < len(out), bit for bit, with
// the vector square root where AVX-512 is available: float32's correctly rounded square root equals
// the float64 one rounded to float32 (53 ≥ 2·24 + 2, so the double rounding is innocuous), and
// TestFloat32sAllInputs checks it on every input.
func SqrtFloat32s(out, in []float32) {
	in = in[:len(out)]
	for i := sqrtFloat32sVector(out, in); i < len(out); i++ {
		out[i] = float32(math.Sqrt(float64(in[i])))
	}
}

// GeluTanhFloat32s sets out[i] = GeluTanhFloat32(in[i]) for i < len(out), bit for bit, with the same
// vector path as TanhFloat32s for the tanh and float32 lanes (same operations, same order, no fused
// multiply-add) for the rest.
func GeluTanhFloat32s(out, in []float32) {
	in = in[:len(out)]
	for i := geluTanhFloat32sVector(out, in); i < len(out); i++ {
		out[i] = GeluTanhFloat32(in[i])
	}
}

// The tanh-form GELU's constants, as float32 (fusedops' geluApproxChunk converts them so).
const (
	geluSqrt2ByPi float32 = 0.7978845608028654 // √(2/π)
	geluCubic     float32 = 0.044715
)

// GeluTanhFloat32 is the Go backend's per-element float32 GELU, tanh form (fusedops' geluApproxChunk):
// x·0.5·(1 + tanh(√(2/π)·(x + 0.044715·x³))), each operation rounded to float32 except tanh, which is
// math.Tanh in float64 rounded once.
func GeluTanhFloat32(x float32) float32 {
	inner := geluSqrt2ByPi * (x + geluCubic*x*x*x)
	return x * 0.5 * (1.0 + float32(math.Tanh(float64(inner))))
}
