package ops_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend/ops"
	"github.com/gomlx/compute/shapes"
)

// gosrppo patch: SliceRuns must equal the original per-element slice for every shape, start,
// limit and stride, including strided last axes and size-1 axes.
func TestSliceRunsMatchesElementwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 3000 {
		rank := rng.IntN(5) + 1
		dims := make([]int, rank)
		starts := make([]int, rank)
		strides := make([]int, rank)
		outDims := make([]int, rank)
		for a := range dims {
			dims[a] = 1 + rng.IntN(9)
			starts[a] = rng.IntN(dims[a])
			limit := starts[a] + 1 + rng.IntN(dims[a]-starts[a])
			strides[a] = 1
			if rng.IntN(3) == 0 {
				strides[a] = 1 + rng.IntN(3)
			}
			outDims[a] = (limit - starts[a] + strides[a] - 1) / strides[a]
		}
		operand := shapes.Make(dtypes.Int32, dims...)
		in := make([]int32, operand.Size())
		for i := range in {
			in[i] = int32(i)
		}
		size := 1
		for _, d := range outDims {
			size *= d
		}
		want := make([]int32, size)
		got := make([]int32, size)
		ops.SliceElementwise(in, want, operand, outDims, starts, strides)
		ops.SliceRuns(in, got, dims, outDims, starts, strides)
		if !slices.Equal(want, got) {
			t.Fatalf("trial %d: dims %v starts %v strides %v out %v:\nwant %v\ngot  %v", trial, dims, starts, strides, outDims, want, got)
		}
	}
}
