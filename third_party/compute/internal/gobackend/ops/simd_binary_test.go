package ops

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// gosrppo patch: the float32 vector kernels equal the scalar operations bit for bit (NaNs: both
// NaN), for every length around the 16-lane boundary, in place too, with infinities, signed zeros,
// subnormals and NaNs among the operands.
func TestSIMDFloat32KernelsMatchScalar(t *testing.T) {
	if simdVVFloat32 == nil {
		t.Skip("no float32 vector kernels in this build or on this CPU (GOEXPERIMENT=simd and AVX-512 needed)")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, math.MaxFloat32, 1e-39}
	value := func() float32 {
		if rng.IntN(8) == 0 {
			return special[rng.IntN(len(special))]
		}
		return float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(7)-3)))
	}
	same := func(a, b float32) bool {
		return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
	}
	for _, op := range []simdOp{simdAdd, simdSub, simdMul, simdDiv} {
		for n := range 70 {
			a, b := make([]float32, n), make([]float32, n)
			for i := range n {
				a[i], b[i] = value(), value()
			}
			c := value()
			check := func(kind string, got []float32, want func(i int) float32) {
				for i := range n {
					if w := want(i); !same(got[i], w) {
						t.Fatalf("op %d %s n=%d i=%d: a=%g b=%g c=%g: got %g, want %g", op, kind, n, i, a[i], b[i], c, got[i], w)
					}
				}
			}
			out := make([]float32, n)
			simdVVFloat32(op, out, a, b)
			check("vv", out, func(i int) float32 { return scalarFloat32(op, a[i], b[i]) })
			simdVSFloat32(op, out, a, c)
			check("vs", out, func(i int) float32 { return scalarFloat32(op, a[i], c) })
			simdSVFloat32(op, out, c, b)
			check("sv", out, func(i int) float32 { return scalarFloat32(op, c, b[i]) })
			inPlace := append([]float32(nil), a...)
			simdVVFloat32(op, inPlace, inPlace, b)
			check("vv in place", inPlace, func(i int) float32 { return scalarFloat32(op, a[i], b[i]) })
		}
	}
}

// TestSIMDFloat32ThroughGeneratedOps runs the generated Add/Sub/Mul/Div on float32 with the vector
// kernels and with them switched off: equal shapes, a scalar on either side, and broadcasting.
func TestSIMDFloat32ThroughGeneratedOps(t *testing.T) {
	if simdVVFloat32 == nil {
		t.Skip("no float32 vector kernels in this build or on this CPU")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	vv, vs, sv := simdVVFloat32, simdVSFloat32, simdSVFloat32
	defer func() { simdVVFloat32, simdVSFloat32, simdSVFloat32 = vv, vs, sv }()
	for _, dims := range [][2][]int{{{37, 21}, {37, 21}}, {{37, 21}, {1, 1}}, {{1, 1}, {37, 21}}, {{37, 21}, {1, 21}}, {{37, 21}, {37, 1}}, {{5, 1, 33}, {1, 4, 33}}} {
		lhsShape, rhsShape := shapeOf(dims[0]), shapeOf(dims[1])
		outShape := broadcastShapeOf(dims[0], dims[1])
		lhs, rhs := make([]float32, lhsShape.Size()), make([]float32, rhsShape.Size())
		for i := range lhs {
			lhs[i] = float32(rng.NormFloat64())
		}
		for i := range rhs {
			rhs[i] = float32(rng.NormFloat64()) + 0.5
		}
		for name, fn := range map[string]func(l, r, o []float32){
			"Add": func(l, r, o []float32) { execAddNumericGeneric(l, r, o, lhsShape, rhsShape, outShape) },
			"Sub": func(l, r, o []float32) { execSubNumericGeneric(l, r, o, lhsShape, rhsShape, outShape) },
			"Mul": func(l, r, o []float32) { execMulNumericGeneric(l, r, o, lhsShape, rhsShape, outShape) },
			"Div": func(l, r, o []float32) { execDivNumericGeneric(l, r, o, lhsShape, rhsShape, outShape) },
		} {
			simdVVFloat32, simdVSFloat32, simdSVFloat32 = vv, vs, sv
			got := make([]float32, outShape.Size())
			fn(lhs, rhs, got)
			simdVVFloat32, simdVSFloat32, simdSVFloat32 = nil, nil, nil
			want := make([]float32, outShape.Size())
			fn(lhs, rhs, want)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s %v %v: element %d: vector %g, scalar %g", name, dims[0], dims[1], i, got[i], want[i])
				}
			}
		}
	}
}

func shapeOf(dims []int) shapes.Shape { return shapes.Make(dtypes.Float32, dims...) }

// broadcastShapeOf is the shape two operands of equal rank broadcast to.
func broadcastShapeOf(a, b []int) shapes.Shape {
	out := make([]int, len(a))
	for i := range a {
		out[i] = max(a[i], b[i])
	}
	return shapeOf(out)
}
