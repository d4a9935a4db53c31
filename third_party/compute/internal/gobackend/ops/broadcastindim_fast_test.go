// GOSRPPO PATCH: tests for the block-wise BroadcastInDim fast path against the per-element iterator.

package ops

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

func testBroadcastInDimFastVsGeneric[T interface {
	comparable
	gobackend.SupportedTypesConstraints
}](t *testing.T, dtype dtypes.DType, gen func(*rand.Rand) T) {
	defer func() { broadcastInDimFastPathEnabled = true }()
	rng := rand.New(rand.NewPCG(3, uint64(dtype)))
	for range 400 {
		rank := 1 + rng.IntN(5)
		outDims, srcDims := make([]int, rank), make([]int, rank)
		for axis := range rank {
			outDims[axis] = 1 + rng.IntN(7)
			if rng.IntN(2) == 0 {
				srcDims[axis] = 1
			} else {
				srcDims[axis] = outDims[axis]
			}
		}
		src := make([]T, prod(srcDims))
		for i := range src {
			src[i] = gen(rng)
		}
		srcShape, outShape := shapes.Make(dtype, srcDims...), shapes.Make(dtype, outDims...)
		operand := &gobackend.Buffer{RawShape: srcShape, Flat: src, InUse: true}
		want := &gobackend.Buffer{RawShape: outShape, Flat: make([]T, prod(outDims)), InUse: true}
		got := &gobackend.Buffer{RawShape: outShape, Flat: make([]T, prod(outDims)), InUse: true}
		iter := gobackend.NewBroadcastIterator(srcShape, outShape)
		broadcastInDimFastPathEnabled = false
		execBroadcastInDimGeneric[T](operand, want, iter)
		broadcastInDimFastPathEnabled = true
		execBroadcastInDimGeneric[T](operand, got, iter)
		if !slices.Equal(want.Flat.([]T), got.Flat.([]T)) {
			t.Fatalf("%s src=%v out=%v: got %v, want %v", dtype, srcDims, outDims, got.Flat, want.Flat)
		}
	}
}

func TestBroadcastInDimFastVsGeneric(t *testing.T) {
	testBroadcastInDimFastVsGeneric(t, dtypes.Float32, func(r *rand.Rand) float32 { return float32(r.NormFloat64()) })
	testBroadcastInDimFastVsGeneric(t, dtypes.Int32, func(r *rand.Rand) int32 { return r.Int32() })
	testBroadcastInDimFastVsGeneric(t, dtypes.Bool, func(r *rand.Rand) bool { return r.IntN(2) == 0 })
}
