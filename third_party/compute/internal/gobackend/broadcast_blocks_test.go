// GOSRPPO PATCH: tests for BroadcastBlocks (broadcast_blocks.go) against the per-element iterators.

package gobackend

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// randomBroadcastDims returns random target dims (rank 1-5, dims 1-7) and numSrcs source dims,
// each axis of each source being either the target dimension or 1 (broadcast).
func randomBroadcastDims(rng *rand.Rand, numSrcs int) (tgt []int, srcs [][]int) {
	rank := 1 + rng.IntN(5)
	tgt = make([]int, rank)
	for i := range tgt {
		tgt[i] = 1 + rng.IntN(7)
	}
	srcs = make([][]int, numSrcs)
	for s := range srcs {
		srcs[s] = make([]int, rank)
		allOnes := rng.IntN(10) == 0
		for i := range srcs[s] {
			if allOnes || rng.IntN(3) == 0 {
				srcs[s][i] = 1
			} else {
				srcs[s][i] = tgt[i]
			}
		}
	}
	return
}

// expandBlocks lists, for each target flat index, the source flat indices, as given by the blocks.
func expandBlocks(bb *BroadcastBlocks) [][]int {
	var out [][]int
	bb.ForEach(func(tgtOffset int, srcOffsets []int) {
		if tgtOffset != len(out) {
			panic("blocks out of order")
		}
		for i := range bb.BlockSize {
			idx := slices.Clone(srcOffsets)
			for s := range idx {
				if bb.SrcContiguous[s] {
					idx[s] += i
				}
			}
			out = append(out, idx)
		}
	})
	return out
}

func TestBroadcastBlocksVsIterators(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	S := func(dims []int) shapes.Shape { return shapes.Make(dtypes.Float32, dims...) }
	for range 2000 {
		numSrcs := 1 + rng.IntN(2)
		tgt, srcs := randomBroadcastDims(rng, numSrcs)
		if numSrcs == 2 {
			// Binary ops: the target dimension is the max of the operands' -- make it consistent.
			for axis := range tgt {
				if srcs[0][axis] == 1 && srcs[1][axis] == 1 {
					tgt[axis] = 1
				}
			}
		}
		bb, ok := NewBroadcastBlocks(tgt, srcs...)
		if !ok {
			t.Fatalf("NewBroadcastBlocks(%v, %v) refused", tgt, srcs)
		}
		got := expandBlocks(bb)
		var want [][]int
		if numSrcs == 1 {
			for srcIdx := range NewBroadcastIterator(S(srcs[0]), S(tgt)).IterFlatIndices() {
				want = append(want, []int{srcIdx})
			}
		} else {
			for indices := range NewZippedBroadcastIterator(S(srcs[0]), S(srcs[1]), S(tgt)).IterFlatIndices() {
				want = append(want, []int{indices.LHSFlatIdx, indices.RHSFlatIdx})
			}
		}
		if !slices.EqualFunc(got, want, slices.Equal[[]int]) {
			t.Fatalf("tgt=%v srcs=%v: blocks (size %d, contiguous %v) give %v, iterator gives %v",
				tgt, srcs, bb.BlockSize, bb.SrcContiguous, got, want)
		}
	}
}

func TestBroadcastBlocksShapes(t *testing.T) {
	// [4, 3, 5] <- [4, 1, 5] and [1, 3, 1]: no merging possible, block is the last axis.
	bb, ok := NewBroadcastBlocks([]int{4, 3, 5}, []int{4, 1, 5}, []int{1, 3, 1})
	if !ok || bb.BlockSize != 5 || bb.NumBlocks != 12 || !slices.Equal(bb.SrcContiguous, []bool{true, false}) {
		t.Fatalf("got %+v, ok=%v", bb, ok)
	}
	// [2, 3, 1, 4] <- [2, 3, 1, 4] and [1, 3, 1, 4]: trailing axes merge (size-1 axis ignored).
	bb, ok = NewBroadcastBlocks([]int{2, 3, 1, 4}, []int{2, 3, 1, 4}, []int{1, 3, 1, 4})
	if !ok || bb.BlockSize != 12 || bb.NumBlocks != 2 || !slices.Equal(bb.SrcContiguous, []bool{true, true}) {
		t.Fatalf("got %+v, ok=%v", bb, ok)
	}
	// Invalid: dimension mismatch, rank mismatch, empty target.
	if _, ok := NewBroadcastBlocks([]int{2, 3}, []int{2, 2}); ok {
		t.Fatal("dimension mismatch accepted")
	}
	if _, ok := NewBroadcastBlocks([]int{2, 3}, []int{3}); ok {
		t.Fatal("rank mismatch accepted")
	}
	if _, ok := NewBroadcastBlocks([]int{0, 3}, []int{1, 3}); ok {
		t.Fatal("empty target accepted")
	}
}
