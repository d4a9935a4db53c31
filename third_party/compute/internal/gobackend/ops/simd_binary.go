// gosrppo patch: float32 vector kernels for the element-wise Add, Sub, Mul and Div.

package ops

// simdOp names an element-wise float32 operation with a vector kernel.
type simdOp uint8

const (
	simdAdd simdOp = iota + 1
	simdSub
	simdMul
	simdDiv
)

// The float32 vector kernels: out[i] = a[i] op b[i] (VV), a[i] op c (VS), c op b[i] (SV). They are
// set by simd_binary_amd64.go when the build has GOEXPERIMENT=simd and the CPU has AVX-512, and nil
// otherwise (the generated scalar loops run). Each lane computes the same IEEE single-precision
// operation as the scalar loop (no fused multiply-add, no reassociation), so results are identical.
var (
	simdVVFloat32 func(op simdOp, out, a, b []float32)
	simdVSFloat32 func(op simdOp, out, a []float32, c float32)
	simdSVFloat32 func(op simdOp, out []float32, c float32, b []float32)
)

// simdVV runs the vector kernel when T is float32 and one is available; it reports whether it ran.
func simdVV[T any](op simdOp, out, a, b []T) bool {
	if simdVVFloat32 == nil {
		return false
	}
	o, ok := any(out).([]float32)
	if !ok {
		return false
	}
	simdVVFloat32(op, o, any(a).([]float32), any(b).([]float32)) //nolint:errcheck // same T
	return true
}

// simdVS is simdVV with a scalar right operand.
func simdVS[T any](op simdOp, out, a []T, c T) bool {
	if simdVSFloat32 == nil {
		return false
	}
	o, ok := any(out).([]float32)
	if !ok {
		return false
	}
	simdVSFloat32(op, o, any(a).([]float32), any(c).(float32)) //nolint:errcheck // same T
	return true
}

// simdSV is simdVV with a scalar left operand.
func simdSV[T any](op simdOp, out []T, c T, b []T) bool {
	if simdSVFloat32 == nil {
		return false
	}
	o, ok := any(out).([]float32)
	if !ok {
		return false
	}
	simdSVFloat32(op, o, any(c).(float32), any(b).([]float32)) //nolint:errcheck // same T
	return true
}

// scalarFloat32 is the scalar operation, for the kernels' tails and the tests.
func scalarFloat32(op simdOp, a, b float32) float32 {
	switch op {
	case simdAdd:
		return a + b
	case simdSub:
		return a - b
	case simdMul:
		return a * b
	default:
		return a / b
	}
}
