// GOSRPPO PATCH: tests for the reduce fast paths (reduce_fast.go).

package ops

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

func TestReduceContiguousLayout(t *testing.T) {
	for _, tc := range []struct {
		dims, axes            []int
		outer, reduced, inner int
		ok                    bool
	}{
		{[]int{5}, []int{0}, 1, 5, 1, true},
		{[]int{3, 4}, []int{1}, 3, 4, 1, true},
		{[]int{3, 4}, []int{0}, 1, 3, 4, true},
		{[]int{2, 3, 4}, []int{0, 2}, 0, 0, 0, false},
		{[]int{2, 1, 4}, []int{0, 2}, 1, 8, 1, true}, // Size-1 axis in-between is ignored.
		{[]int{2, 5, 1, 4}, []int{0, 3}, 0, 0, 0, false},
		{[]int{2, 3, 4}, []int{1, 2}, 2, 12, 1, true},
		{[]int{2, 1, 3, 4}, []int{0, 2}, 1, 6, 4, true}, // Size-1 axis in-between is ignored.
		{[]int{2, 3, 1}, []int{2}, 6, 1, 1, true},       // Only size-1 axes reduced.
		{[]int{2, 3, 4, 5}, []int{1, 2}, 2, 12, 5, true},
		{[]int{2, 3, 4, 5}, []int{1, 3}, 0, 0, 0, false},
	} {
		outer, reduced, inner, ok := reduceContiguousLayout(tc.dims, tc.axes)
		if ok != tc.ok || (ok && (outer != tc.outer || reduced != tc.reduced || inner != tc.inner)) {
			t.Errorf("reduceContiguousLayout(%v, %v) = (%d, %d, %d, %v), want (%d, %d, %d, %v)",
				tc.dims, tc.axes, outer, reduced, inner, ok, tc.outer, tc.reduced, tc.inner, tc.ok)
		}
	}
}

// randomReduceCase returns random dimensions (rank 1-5, dims 1-7) and a random non-empty set of reduce axes.
func randomReduceCase(rng *rand.Rand) (dims, axes []int) {
	rank := 1 + rng.IntN(5)
	dims = make([]int, rank)
	for i := range dims {
		if rng.IntN(4) == 0 {
			dims[i] = 1
		} else {
			dims[i] = 1 + rng.IntN(7)
		}
	}
	for len(axes) == 0 {
		for axis := range rank {
			if rng.IntN(2) == 0 {
				axes = append(axes, axis)
			}
		}
	}
	return
}

func reduceOutputDims(dims, axes []int) []int {
	var out []int
	for axis, dim := range dims {
		if !slices.Contains(axes, axis) {
			out = append(out, dim)
		}
	}
	return out
}

func makeTestBuffer[T gobackend.PODNumericConstraints](dtype dtypes.DType, flat []T, dims ...int) *gobackend.Buffer {
	return &gobackend.Buffer{RawShape: shapes.Make(dtype, dims...), Flat: flat, InUse: true}
}

func testReduceFastVsGeneric[T gobackend.PODNumericConstraints](t *testing.T, dtype dtypes.DType, gen func(*rand.Rand) T) {
	rng := rand.New(rand.NewPCG(42, uint64(dtype)))
	ops := []struct {
		opType  compute.OpType
		generic GenericReduceFn
	}{
		{compute.OpTypeReduceSum, execReduceSumGeneric[T]},
		{compute.OpTypeReduceMax, execReduceMaxGeneric[T]},
		{compute.OpTypeReduceMin, execReduceMinGeneric[T]},
		{compute.OpTypeReduceProduct, execReduceProductGeneric[T]},
	}
	var numFast, numFallback int
	for range 400 {
		dims, axes := randomReduceCase(rng)
		size := 1
		for _, d := range dims {
			size *= d
		}
		x := make([]T, size)
		for i := range x {
			x[i] = gen(rng)
		}
		outDims := reduceOutputDims(dims, axes)
		outSize := 1
		for _, d := range outDims {
			outSize *= d
		}
		for _, op := range ops {
			operand := makeTestBuffer(dtype, x, dims...)
			want := makeTestBuffer(dtype, make([]T, outSize), outDims...)
			if err := op.generic(operand, want, NewReduceOutputIterator(dims, axes), dtype); err != nil {
				t.Fatal(err)
			}
			got := makeTestBuffer(dtype, make([]T, outSize), outDims...)
			for i := range got.Flat.([]T) {
				got.Flat.([]T)[i] = T(7) // Garbage, must be overwritten.
			}
			if !reduceFast(op.opType, operand, got, axes) {
				numFallback++
				if _, _, _, ok := reduceContiguousLayout(dims, axes); ok {
					t.Fatalf("%s dims=%v axes=%v: fast path refused a contiguous reduction", op.opType, dims, axes)
				}
				continue
			}
			numFast++
			// Summation order is the same as the generic version, so results must be bit-identical
			// (for floats, too).
			wantFlat, gotFlat := want.Flat.([]T), got.Flat.([]T)
			for i := range wantFlat {
				if wantFlat[i] != gotFlat[i] && !(wantFlat[i] != wantFlat[i] && gotFlat[i] != gotFlat[i]) {
					t.Fatalf("%s %s dims=%v axes=%v: output[%d]=%v, generic=%v", op.opType, dtype, dims, axes,
						i, gotFlat[i], wantFlat[i])
				}
			}
		}
	}
	if numFast == 0 || numFallback == 0 {
		t.Fatalf("expected both fast-path and fallback cases, got fast=%d fallback=%d", numFast, numFallback)
	}
	t.Logf("%s: %d fast-path cases, %d fallback cases", dtype, numFast, numFallback)
}

func TestReduceFastVsGeneric(t *testing.T) {
	testReduceFastVsGeneric(t, dtypes.Float32, func(r *rand.Rand) float32 { return float32(r.NormFloat64()) })
	testReduceFastVsGeneric(t, dtypes.Float64, func(r *rand.Rand) float64 { return r.NormFloat64() * 1e3 })
	testReduceFastVsGeneric(t, dtypes.Int32, func(r *rand.Rand) int32 { return int32(r.IntN(2001) - 1000) })
	testReduceFastVsGeneric(t, dtypes.Int8, func(r *rand.Rand) int8 { return int8(r.IntN(256) - 128) }) // Overflow wraps.
	testReduceFastVsGeneric(t, dtypes.Uint16, func(r *rand.Rand) uint16 { return uint16(r.IntN(1 << 16)) })
	// Special float values: NaN, +/-Inf, -0.
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 0, 1}
	testReduceFastVsGeneric(t, dtypes.Float32, func(r *rand.Rand) float32 {
		if r.IntN(8) == 0 {
			return specials[r.IntN(len(specials))]
		}
		return float32(r.NormFloat64())
	})
}
