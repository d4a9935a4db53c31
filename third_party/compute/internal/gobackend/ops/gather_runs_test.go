// gosrppo patch: the run-by-run gather against the element-by-element one.

package ops

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapeinference"
	"github.com/gomlx/compute/shapes"
)

// TestGatherRunsMatchElementwise draws random valid gathers (operand rank 1–4, indexed axes in random
// order, collapsed ones among them, slice sizes up to the full dimension, index batch axes around the
// index vector, offset axes at random output positions), including srppo's embedding lookup (operand
// [V, D], one index per row, slices [1, D]), and requires the same output with and without runs.
func TestGatherRunsMatchElementwise(t *testing.T) {
	b, err := gobackend.New("")
	if err != nil {
		t.Fatal(err)
	}
	backend := b.(*gobackend.Backend)
	defer func() { gatherRunsEnabled = true }()
	rng := rand.New(rand.NewPCG(9, 10))
	tested, runs := 0, 0
	for trial := 0; tested < 1500 && trial < 50000; trial++ {
		rank := 1 + rng.IntN(4)
		dims := make([]int, rank)
		for a := range dims {
			dims[a] = 1 + rng.IntN(5)
		}
		indexed := rng.Perm(rank)[:1+rng.IntN(rank)]
		var collapsed []int
		sliceSizes := make([]int, rank)
		for a := range rank {
			sliceSizes[a] = dims[a]
			if rng.IntN(3) == 0 {
				sliceSizes[a] = 1 + rng.IntN(dims[a])
			}
		}
		for _, a := range indexed {
			if rng.IntN(2) == 0 {
				collapsed = append(collapsed, a)
				sliceSizes[a] = 1
			}
		}
		slices.Sort(collapsed)
		batch := make([]int, rng.IntN(3))
		for i := range batch {
			batch[i] = 1 + rng.IntN(3)
		}
		indexVectorAxis := rng.IntN(len(batch) + 1)
		idxDims := slices.Insert(slices.Clone(batch), indexVectorAxis, len(indexed))
		offsetCount := rank - len(collapsed)
		outRank := len(batch) + offsetCount
		offsetAxes := rng.Perm(outRank)[:offsetCount]
		slices.Sort(offsetAxes)
		if trial == 0 { // the embedding lookup: operand [V, D], indices [B, S, 1], slices [1, D]
			dims, indexed, collapsed, sliceSizes = []int{7, 5}, []int{0}, []int{0}, []int{1, 5}
			idxDims, indexVectorAxis, offsetAxes = []int{2, 3, 1}, 2, []int{2}
		}
		operandShape := shapes.Make(dtypes.Float32, dims...)
		indicesShape := shapes.Make(dtypes.Int32, idxDims...)
		outShape, err := shapeinference.Gather(operandShape, indicesShape, indexVectorAxis, offsetAxes, collapsed, indexed, sliceSizes, false)
		if err != nil {
			continue
		}
		tested++
		operand := make([]float32, operandShape.Size())
		for i := range operand {
			operand[i] = float32(i) + 0.5
		}
		indices := make([]int32, indicesShape.Size())
		for i := range indices {
			indices[i] = int32(rng.IntN(6)) - 1 // some out of range: clamped
		}
		node := &gobackend.Node{Shape: outShape, Data: &gatherNode{indexVectorAxis: indexVectorAxis, offsetOutputAxes: offsetAxes,
			collapsedSlicesAxes: collapsed, startIndexMap: indexed, sliceSizes: sliceSizes}}
		run := func(enabled bool) []float32 {
			gatherRunsEnabled = enabled
			out, err := execGather(backend, node, []*gobackend.Buffer{
				{RawShape: operandShape, Flat: operand}, {RawShape: indicesShape, Flat: indices}}, []bool{false, false})
			if err != nil {
				t.Fatal(err)
			}
			return slices.Clone(out.Flat.([]float32))
		}
		want, got := run(false), run(true)
		if !slices.Equal(want, got) {
			t.Fatalf("operand %v indices %v (vector axis %d) indexed %v collapsed %v slices %v offset axes %v: runs differ\nwant %v\ngot  %v",
				dims, idxDims, indexVectorAxis, indexed, collapsed, sliceSizes, offsetAxes, want, got)
		}
		last := rank - 1
		if sliceSizes[last] > 1 && slices.Contains(offsetAxes, outRank-1) {
			runs++
		}
	}
	if tested < 500 || runs < 100 {
		t.Fatalf("only %d valid gathers (%d with a run) generated", tested, runs)
	}
	t.Logf("%d gathers, %d with a contiguous run", tested, runs)
}
