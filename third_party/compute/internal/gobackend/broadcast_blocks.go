// GOSRPPO PATCH (see GOSRPPO_PATCHES.md): block-wise broadcasting.

package gobackend

// BroadcastBlocks decomposes the iteration over the flat indices of a broadcast target shape into
// contiguous blocks of BlockSize target elements. Within one block each source is either
// contiguous (SrcContiguous[i] == true: the block maps to BlockSize consecutive source elements) or
// constant (SrcContiguous[i] == false: the whole block reads one source element).
//
// It is the block-wise counterpart of BroadcastIterator/ZipIterator: instead of a per-element yield,
// the caller runs a tight loop per block.
//
// How: target axes of dimension 1 are dropped; each remaining axis is tagged with the set of sources that are
// present on it (source dimension == target dimension; the others have dimension 1 and are broadcast);
// adjacent axes with the same tag are merged. The innermost merged axis is the block, the others are iterated
// with per-source strides (0 for broadcast axes).
type BroadcastBlocks struct {
	// BlockSize is the number of target elements in each block. The target flat index of block k is k*BlockSize.
	BlockSize int

	// NumBlocks is the number of blocks: NumBlocks*BlockSize is the target size.
	NumBlocks int

	// SrcContiguous tells for each source whether it is contiguous within a block (otherwise it's constant).
	SrcContiguous []bool

	outerDims  []int   // Merged outer axes dimensions.
	srcStrides [][]int // [srcIdx][outerAxis]: stride of the source flat index, 0 if broadcast.
}

// NewBroadcastBlocks returns the block decomposition of broadcasting the sources (with dimensions srcDims)
// to the target dimensions tgtDims.
//
// It returns ok=false if it can't handle the shapes: rank mismatch, a source dimension that is
// neither 1 nor the target dimension, or an empty target.
func NewBroadcastBlocks(tgtDims []int, srcDims ...[]int) (bb *BroadcastBlocks, ok bool) {
	rank := len(tgtDims)
	numSrcs := len(srcDims)
	if numSrcs > 32 {
		return nil, false
	}
	for _, dims := range srcDims {
		if len(dims) != rank {
			return nil, false
		}
		for axis, dim := range dims {
			if dim != 1 && dim != tgtDims[axis] {
				return nil, false
			}
		}
	}
	for _, dim := range tgtDims {
		if dim <= 0 {
			return nil, false
		}
	}

	// Source strides on the original axes.
	strides := make([][]int, numSrcs)
	for srcIdx, dims := range srcDims {
		strides[srcIdx] = make([]int, rank)
		stride := 1
		for axis := rank - 1; axis >= 0; axis-- {
			strides[srcIdx][axis] = stride
			stride *= dims[axis]
		}
	}

	// Merge axes: groups of adjacent (non-trivial) axes with the same presence mask.
	type group struct {
		mask    uint32
		dim     int
		innerAx int // Innermost original axis of the group: its strides are the group's strides.
	}
	groups := make([]group, 0, rank)
	for axis, dim := range tgtDims {
		if dim == 1 {
			continue
		}
		var mask uint32
		for srcIdx, dims := range srcDims {
			if dims[axis] == dim {
				mask |= 1 << srcIdx
			}
		}
		if n := len(groups); n > 0 && groups[n-1].mask == mask {
			groups[n-1].dim *= dim
			groups[n-1].innerAx = axis
			continue
		}
		groups = append(groups, group{mask: mask, dim: dim, innerAx: axis})
	}

	bb = &BroadcastBlocks{
		BlockSize:     1,
		NumBlocks:     1,
		SrcContiguous: make([]bool, numSrcs),
		srcStrides:    make([][]int, numSrcs),
	}
	if len(groups) == 0 {
		// Target has size 1: one block of size 1, all sources "contiguous".
		for srcIdx := range bb.SrcContiguous {
			bb.SrcContiguous[srcIdx] = true
		}
		return bb, true
	}
	inner := groups[len(groups)-1]
	bb.BlockSize = inner.dim
	for srcIdx := range numSrcs {
		bb.SrcContiguous[srcIdx] = inner.mask&(1<<srcIdx) != 0
	}
	outer := groups[:len(groups)-1]
	bb.outerDims = make([]int, len(outer))
	for srcIdx := range numSrcs {
		bb.srcStrides[srcIdx] = make([]int, len(outer))
	}
	for i, g := range outer {
		bb.outerDims[i] = g.dim
		bb.NumBlocks *= g.dim
		for srcIdx := range numSrcs {
			if g.mask&(1<<srcIdx) != 0 {
				bb.srcStrides[srcIdx][i] = strides[srcIdx][g.innerAx]
			}
		}
	}
	return bb, true
}

// ForEach calls fn for each block, in order, with the target flat offset of the block and the
// source flat offsets (one per source) of the block's first element.
//
// srcOffsets is reused between calls: fn must not retain it.
func (bb *BroadcastBlocks) ForEach(fn func(tgtOffset int, srcOffsets []int)) {
	numSrcs := len(bb.SrcContiguous)
	rank := len(bb.outerDims)
	srcOffsets := make([]int, numSrcs)
	perAxisIdx := make([]int, rank)
	tgtOffset := 0
	for range bb.NumBlocks {
		fn(tgtOffset, srcOffsets)
		tgtOffset += bb.BlockSize
		// Advance the odometer over the outer axes.
		for axis := rank - 1; axis >= 0; axis-- {
			perAxisIdx[axis]++
			if perAxisIdx[axis] < bb.outerDims[axis] {
				for srcIdx := range numSrcs {
					srcOffsets[srcIdx] += bb.srcStrides[srcIdx][axis]
				}
				break
			}
			// Wrap around this axis and carry to the next.
			perAxisIdx[axis] = 0
			for srcIdx := range numSrcs {
				srcOffsets[srcIdx] -= bb.srcStrides[srcIdx][axis] * (bb.outerDims[axis] - 1)
			}
		}
	}
}

// Blocks returns the block decomposition (see BroadcastBlocks) equivalent to this iterator.
func (bi *BroadcastIterator) Blocks() (*BroadcastBlocks, bool) {
	srcDims := make([]int, len(bi.tgtDims))
	for axis, dim := range bi.tgtDims {
		if bi.isBroadcast[axis] {
			srcDims[axis] = 1
		} else {
			srcDims[axis] = dim
		}
	}
	return NewBroadcastBlocks(bi.tgtDims, srcDims)
}
