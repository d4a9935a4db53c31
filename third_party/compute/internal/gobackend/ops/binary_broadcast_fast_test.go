// GOSRPPO PATCH: tests for the block-wise broadcasting fast path of binary ops (binary_broadcast_fast.go),
// comparing against the original per-element iterator code (fast path disabled).

package ops

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/shapes"
)

// randomBinaryBroadcastShapes returns lhs, rhs and output dimensions (rank 1-5, dims 1-7) with a random
// broadcast pattern: each axis is present in both operands, only in lhs or only in rhs.
func randomBinaryBroadcastShapes(rng *rand.Rand) (lhs, rhs, out []int) {
	rank := 1 + rng.IntN(5)
	lhs, rhs, out = make([]int, rank), make([]int, rank), make([]int, rank)
	lhsScalar, rhsScalar := rng.IntN(12) == 0, rng.IntN(12) == 0
	for axis := range rank {
		dim := 1 + rng.IntN(7)
		out[axis] = dim
		lhs[axis], rhs[axis] = dim, dim
		switch rng.IntN(3) {
		case 1:
			lhs[axis] = 1
		case 2:
			rhs[axis] = 1
		}
		if lhsScalar {
			lhs[axis] = 1
		}
		if rhsScalar {
			rhs[axis] = 1
		}
		if lhs[axis] == 1 && rhs[axis] == 1 {
			out[axis] = 1
		}
	}
	return
}

func prod(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

type binaryTestFn[TIn, TOut any] func(lhs, rhs []TIn, output []TOut, lhsShape, rhsShape, outputShape shapes.Shape)

func testBinaryBroadcastFastVsGeneric[TIn any, TOut comparable](t *testing.T, name string, dtype dtypes.DType,
	fn binaryTestFn[TIn, TOut], gen func(*rand.Rand) TIn) {
	defer func() { binaryBroadcastFastPathEnabled = true }()
	rng := rand.New(rand.NewPCG(7, uint64(len(name))))
	for range 300 {
		lhsDims, rhsDims, outDims := randomBinaryBroadcastShapes(rng)
		lhs, rhs := make([]TIn, prod(lhsDims)), make([]TIn, prod(rhsDims))
		for i := range lhs {
			lhs[i] = gen(rng)
		}
		for i := range rhs {
			rhs[i] = gen(rng)
		}
		lhsShape, rhsShape, outShape := shapes.Make(dtype, lhsDims...), shapes.Make(dtype, rhsDims...), shapes.Make(dtype, outDims...)
		want, got := make([]TOut, prod(outDims)), make([]TOut, prod(outDims))
		binaryBroadcastFastPathEnabled = false
		fn(lhs, rhs, want, lhsShape, rhsShape, outShape)
		binaryBroadcastFastPathEnabled = true
		fn(lhs, rhs, got, lhsShape, rhsShape, outShape)
		for i := range want {
			if want[i] != got[i] && want[i] == want[i] { // want[i] == want[i] excludes NaN.
				t.Fatalf("%s(%s): lhs=%v rhs=%v out=%v: output[%d]=%v, generic=%v", name, dtype, lhsDims, rhsDims, outDims,
					i, got[i], want[i])
			}
		}
	}
}

func TestBinaryBroadcastFastVsGeneric(t *testing.T) {
	f32 := func(r *rand.Rand) float32 { return float32(r.NormFloat64()) }
	i32 := func(r *rand.Rand) int32 { return int32(r.IntN(201) - 100) }
	i32NonZero := func(r *rand.Rand) int32 { return int32(r.IntN(100) + 1) }
	testBinaryBroadcastFastVsGeneric(t, "Add", dtypes.Float32, execAddNumericGeneric[float32], f32)
	testBinaryBroadcastFastVsGeneric(t, "Sub", dtypes.Float32, execSubNumericGeneric[float32], f32)
	testBinaryBroadcastFastVsGeneric(t, "Mul", dtypes.Float32, execMulNumericGeneric[float32], f32)
	testBinaryBroadcastFastVsGeneric(t, "Div", dtypes.Float32, execDivNumericGeneric[float32], f32)
	testBinaryBroadcastFastVsGeneric(t, "Pow", dtypes.Float32, execPowFloatGeneric[float32], f32)
	testBinaryBroadcastFastVsGeneric(t, "Max", dtypes.Float32, execMaxNumericGeneric[float32], f32)
	testBinaryBroadcastFastVsGeneric(t, "LessThan", dtypes.Float32, execLessThanNumericGeneric[float32], f32)
	testBinaryBroadcastFastVsGeneric(t, "Sub", dtypes.Int32, execSubNumericGeneric[int32], i32)
	testBinaryBroadcastFastVsGeneric(t, "Mul", dtypes.Int32, execMulNumericGeneric[int32], i32)
	testBinaryBroadcastFastVsGeneric(t, "Div", dtypes.Int32, execDivNumericGeneric[int32], i32NonZero)
	testBinaryBroadcastFastVsGeneric(t, "Rem", dtypes.Int32, execRemIntegerGeneric[int32], i32NonZero)
	testBinaryBroadcastFastVsGeneric(t, "GreaterOrEqual", dtypes.Int32, execGreaterOrEqualNumericGeneric[int32], i32)
	testBinaryBroadcastFastVsGeneric(t, "BitwiseXor", dtypes.Int32, execBitwiseXorIntegerGeneric[int32], i32)
	testBinaryBroadcastFastVsGeneric(t, "LogicalAnd", dtypes.Bool, execLogicalAndBooleanGeneric[bool],
		func(r *rand.Rand) bool { return r.IntN(2) == 0 })
	bf16 := func(r *rand.Rand) bfloat16.BFloat16 { return bfloat16.FromFloat32(float32(r.NormFloat64())) }
	testBinaryBroadcastFastVsGeneric(t, "Sub", dtypes.BFloat16, execSubNumericBFloat16, bf16)
	testBinaryBroadcastFastVsGeneric(t, "GreaterThan", dtypes.BFloat16, execGreaterThanNumericBFloat16, bf16)
}
