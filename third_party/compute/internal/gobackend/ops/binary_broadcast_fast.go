// GOSRPPO PATCH (see GOSRPPO_PATCHES.md): block-wise fast path for broadcasting binary ops ("Case 3" of
// gen_exec_binary.go).

package ops

import (
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

// binaryBroadcastFastPathEnabled can be turned off by tests to force the generic per-element ZipIterator.
var binaryBroadcastFastPathEnabled = true

// execBinaryBroadcastBlocks executes a broadcasting binary op block-wise (see gobackend.BroadcastBlocks):
// per block it calls one of the tight loops vv (both operands contiguous), vs (rhs constant) or
// sv (lhs constant).
//
// It returns false, having done nothing, if the fast path doesn't apply: the caller must then use the
// generic per-element iterator.
func execBinaryBroadcastBlocks[TIn, TOut any](lhs, rhs []TIn, output []TOut, lhsShape, rhsShape, outputShape shapes.Shape,
	vv func(l, r []TIn, o []TOut), vs func(l []TIn, c TIn, o []TOut), sv func(c TIn, r []TIn, o []TOut)) bool {
	if !binaryBroadcastFastPathEnabled {
		return false
	}
	bb, ok := gobackend.NewBroadcastBlocks(outputShape.Dimensions, lhsShape.Dimensions, rhsShape.Dimensions)
	if !ok || bb.NumBlocks*bb.BlockSize != len(output) {
		return false
	}
	n := bb.BlockSize
	lhsContiguous, rhsContiguous := bb.SrcContiguous[0], bb.SrcContiguous[1]
	switch {
	case lhsContiguous && rhsContiguous:
		bb.ForEach(func(tgtOffset int, srcOffsets []int) {
			vv(lhs[srcOffsets[0]:srcOffsets[0]+n], rhs[srcOffsets[1]:srcOffsets[1]+n], output[tgtOffset:tgtOffset+n])
		})
	case lhsContiguous:
		bb.ForEach(func(tgtOffset int, srcOffsets []int) {
			vs(lhs[srcOffsets[0]:srcOffsets[0]+n], rhs[srcOffsets[1]], output[tgtOffset:tgtOffset+n])
		})
	case rhsContiguous:
		bb.ForEach(func(tgtOffset int, srcOffsets []int) {
			sv(lhs[srcOffsets[0]], rhs[srcOffsets[1]:srcOffsets[1]+n], output[tgtOffset:tgtOffset+n])
		})
	default:
		// Both constant over a block of size > 1: not a valid implicit broadcast, leave it to the generic code.
		return false
	}
	return true
}
