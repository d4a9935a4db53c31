package ops_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend/ops"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/compute/support/testutil"
)

func TestTransposeIterator(t *testing.T) {
	operand := shapes.Make(dtypes.Int32, 2, 3, 4)
	permutations := []int{2, 0, 1}
	it := ops.NewTransposeIterator(operand, permutations)
	transposedFlatIndices := make([]int, 0, operand.Size())
	for range operand.Size() {
		transposedFlatIndices = append(transposedFlatIndices, it.Next())
	}
	// fmt.Printf("\ttransposedFlatIndices=%#v\n", transposedFlatIndices)
	want := []int{
		// Operand axis 2 (the first being iterated) becomes output axis 0, in row-major order,
		// this is the largest one, with strides of 6:
		0, 6, 12, 18,
		1, 7, 13, 19,
		2, 8, 14, 20,

		3, 9, 15, 21,
		4, 10, 16, 22,
		5, 11, 17, 23}
	if ok, diff := testutil.IsEqual(want, transposedFlatIndices); !ok {
		t.Fatalf("transposeIterator mismatch:\n%s", diff)
	}
}

// gosrppo patch: the blocked transpose must equal the per-element one on every shape and
// permutation, including size-1 axes, merged axes and tiles that do not divide the dimensions.
func TestTransposeBlockedMatchesElementwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 3000 {
		rank := 1 + rng.IntN(5)
		dims := make([]int, rank)
		for i := range dims {
			dims[i] = 1 + rng.IntN(7)
			if rng.IntN(6) == 0 {
				dims[i] = 1 + rng.IntN(40) // Larger than a tile.
			}
		}
		perm := rng.Perm(rank)
		operand := shapes.Make(dtypes.Int32, dims...)
		in := make([]int32, operand.Size())
		for i := range in {
			in[i] = int32(i)
		}
		want := make([]int32, len(in))
		got := make([]int32, len(in))
		ops.TransposeElementwise(in, want, ops.NewTransposeIterator(operand, perm))
		ops.TransposeBlocked(in, got, ops.NewTransposeIterator(operand, perm))
		if !slices.Equal(want, got) {
			t.Fatalf("trial %d: dims %v perm %v: blocked transpose differs\nwant %v\ngot  %v", trial, dims, perm, want, got)
		}
	}
}
