// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package ops

import (
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/dtypes/float16"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapeinference"
	"github.com/gomlx/compute/shapes"
)

func init() {
	gobackend.RegisterTranspose.Register(Transpose, gobackend.PriorityGeneric)
	gobackend.SetNodeExecutor(compute.OpTypeTranspose, gobackend.PriorityGeneric, execTranspose)
}

// Transpose axes of x.
// There must be one value in permutations for each axis in the operand.
// The output will have: output.Shape.Dimension[ii] = operand.Shape.Dimension[permutations[i]].
func Transpose(f *gobackend.Function, operandValue compute.Value, permutations ...int) (compute.Value, error) {
	opType := compute.OpTypeTranspose
	inputs, err := f.VerifyAndCastValues(opType.String(), operandValue)
	if err != nil {
		return nil, err
	}
	operand := inputs[0]

	outputShape, err := shapeinference.Transpose(operand.Shape, permutations)
	if err != nil {
		// This should have been validated during graph build, but we check again just in case.
		return nil, err
	}
	node, _ := f.GetOrCreateNode(opType, outputShape, inputs, permutations)
	return node, nil
}

// TransposeDTypeMap is used to dispatch Transpose to type-specific implementations.
// gobackend:dtypemap execTransposeGeneric ints,uints,floats,half,bool
var TransposeDTypeMap = gobackend.NewDTypeMap("Transpose")

func init() {
	TransposeDTypeMap.Register(dtypes.Float16, gobackend.PriorityTyped, execTransposeFloat16)
	TransposeDTypeMap.Register(dtypes.BFloat16, gobackend.PriorityTyped, execTransposeBFloat16)
}

// execTranspose implements Transpose.
// The output will have: output.Shape.Dimension[ii] = operand.Shape.Dimension[permutations[i]].
func execTranspose(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
	operand := inputs[0]
	permutations := node.Data.([]int)
	_ = inputsOwned // We don't reuse the inputs.

	// We can't write to the same buffer we read from because it's not done with swaps.
	output, err := backend.GetBuffer(node.Shape)
	if err != nil {
		return nil, err
	}
	it := NewTransposeIterator(operand.RawShape, permutations)
	dtype := node.Shape.DType
	tmpAny, tmpErr := TransposeDTypeMap.Get(dtype)
	if tmpErr != nil {
		panic(tmpErr)
	}
	transposeFn := tmpAny.(func(operand, output *gobackend.Buffer, it *TransposeIterator))
	transposeFn(operand, output, it)
	return output, nil
}

// TransposeIterator creates a dynamic iterator that yields output flat indices
// for the corresponding flat index on the input operand, assuming the operand flat index is moving
// incrementally.
type TransposeIterator struct {
	flatIdx                                int
	perAxisIdx, perAxisStrides, dimensions []int
}

// NewTransposeIterator creates a dynamic iterator that yields output flat indices
// for the corresponding flat index on the input operand, assuming the operand flat index is moving
// incrementally.
func NewTransposeIterator(operand shapes.Shape, permutations []int) *TransposeIterator {
	rank := operand.Rank()

	it := &TransposeIterator{
		perAxisIdx:     make([]int, rank),
		perAxisStrides: make([]int, rank),
		dimensions:     slices.Clone(operand.Dimensions),
	}

	// First, calculate strides on the output.
	stridesOnOutput := make([]int, rank)
	stride := 1
	reversePermutations := make([]int, rank)
	for outputAxis := rank - 1; outputAxis >= 0; outputAxis-- {
		stridesOnOutput[outputAxis] = stride
		operandAxis := permutations[outputAxis]
		stride *= operand.Dimensions[operandAxis]
		reversePermutations[operandAxis] = outputAxis
	}

	// Calculate per operand axis, what is the stride on the output.
	for operandAxis := range rank {
		outputAxis := reversePermutations[operandAxis]
		it.perAxisStrides[operandAxis] = stridesOnOutput[outputAxis]
	}
	return it
}

// Next returns the next flat index in the output.
func (it *TransposeIterator) Next() int {
	// Store current flatIdx first
	nextFlatIdx := it.flatIdx

	// Cache rank to avoid repeated len() calls
	rank := len(it.perAxisIdx)

	// Use local variables for array access to avoid repeated indirection
	perAxisIdx := it.perAxisIdx
	perAxisStrides := it.perAxisStrides
	dimensions := it.dimensions

	// Handle remaining axes only when needed
	for axis := rank - 1; axis >= 0; axis-- {
		perAxisIdx[axis]++
		it.flatIdx += perAxisStrides[axis]
		if perAxisIdx[axis] < dimensions[axis] {
			// We are done.
			return nextFlatIdx
		}
		perAxisIdx[axis] = 0
		it.flatIdx -= perAxisStrides[axis] * dimensions[axis]
	}

	return nextFlatIdx
}

func execTransposeGeneric[T gobackend.SupportedTypesConstraints](operand, output *gobackend.Buffer, it *TransposeIterator) {
	operandFlat := operand.Flat.([]T)
	outputFlat := output.Flat.([]T)
	TransposeBlocked(operandFlat, outputFlat, it)
}

// TransposeElementwise is the original per-element transpose (one TransposeIterator step per
// element). gosrppo patch: kept as the reference the blocked version is tested against.
func TransposeElementwise[T gobackend.SupportedTypesConstraints](operandFlat, outputFlat []T, it *TransposeIterator) {
	for _, value := range operandFlat {
		outputFlat[it.Next()] = value
	}
}

// transposeTile is the side of the square tiles of the blocked transpose: 16×16 float32 tiles
// read 16 cache lines and write 16, which stay in L1 while the tile is copied.
const transposeTile = 16

// TransposeBlocked writes operandFlat transposed into outputFlat, as the TransposeIterator it
// describes (it must be fresh: only its dimensions and output strides are read).
//
// gosrppo patch: the generic transpose stepped a rank-length odometer for every element. This
// version merges operand axes that stay adjacent in the output, then either copies contiguous
// runs (when the operand's last axis stays last) or transposes 16×16 tiles of the two axes that
// are contiguous in the operand and in the output, walking the remaining axes once per tile row.
func TransposeBlocked[T gobackend.SupportedTypesConstraints](operandFlat, outputFlat []T, it *TransposeIterator) {
	// Per operand axis: dimension, stride in the operand (row-major) and stride in the output.
	rank := len(it.dimensions)
	dims := make([]int, 0, rank)
	inStrides := make([]int, 0, rank)
	outStrides := make([]int, 0, rank)
	inStride := 1
	for axis := rank - 1; axis >= 0; axis-- {
		d := it.dimensions[axis]
		if d == 1 {
			continue // Size-1 axes move nothing.
		}
		n := len(dims)
		if n > 0 && outStrides[n-1]*dims[n-1] == it.perAxisStrides[axis] {
			// Adjacent in the operand and in the output: merge with the (inner) previous axis.
			dims[n-1] *= d
		} else {
			dims = append(dims, d)
			inStrides = append(inStrides, inStride)
			outStrides = append(outStrides, it.perAxisStrides[axis])
		}
		inStride *= d
	}
	// dims, inStrides, outStrides are now ordered from the operand's innermost axis outwards.
	n := len(dims)
	if n <= 1 {
		copy(outputFlat, operandFlat)
		return
	}
	// Axis 0 is the operand's innermost (in stride 1); find the output's innermost (out stride 1).
	inner := -1
	for a := range n {
		if outStrides[a] == 1 {
			inner = a
			break
		}
	}
	if inner == 0 {
		// Both innermost axes coincide: copy runs of dims[0] elements.
		run := dims[0]
		forEachOffset(dims[1:], inStrides[1:], outStrides[1:], func(in, out int) {
			copy(outputFlat[out:out+run], operandFlat[in:in+run])
		})
		return
	}
	// Tile over the operand's innermost axis (a = 0, contiguous reads) and the output's innermost
	// axis (b = inner, contiguous writes).
	dimA, dimB := dims[0], dims[inner]
	outStrideA, inStrideB := outStrides[0], inStrides[inner]
	restDims := make([]int, 0, n-2)
	restIn := make([]int, 0, n-2)
	restOut := make([]int, 0, n-2)
	for a := 1; a < n; a++ {
		if a != inner {
			restDims = append(restDims, dims[a])
			restIn = append(restIn, inStrides[a])
			restOut = append(restOut, outStrides[a])
		}
	}
	forEachOffset(restDims, restIn, restOut, func(in, out int) {
		for a0 := 0; a0 < dimA; a0 += transposeTile {
			a1 := min(a0+transposeTile, dimA)
			for b0 := 0; b0 < dimB; b0 += transposeTile {
				b1 := min(b0+transposeTile, dimB)
				for a := a0; a < a1; a++ {
					src := operandFlat[in+a : in+a+(b1-1)*inStrideB+1]
					dst := outputFlat[out+a*outStrideA+b0 : out+a*outStrideA+b1]
					for i := range dst {
						dst[i] = src[(b0+i)*inStrideB]
					}
				}
			}
		}
	})
}

// forEachOffset calls fn with the operand and output offsets of every index of the axes given
// (dimension and the two strides per axis, innermost first), in row-major order.
func forEachOffset(dims, inStrides, outStrides []int, fn func(in, out int)) {
	n := len(dims)
	if n == 0 {
		fn(0, 0)
		return
	}
	idx := make([]int, n)
	in, out := 0, 0
	for {
		fn(in, out)
		axis := 0
		for ; axis < n; axis++ {
			idx[axis]++
			in += inStrides[axis]
			out += outStrides[axis]
			if idx[axis] < dims[axis] {
				break
			}
			in -= inStrides[axis] * dims[axis]
			out -= outStrides[axis] * dims[axis]
			idx[axis] = 0
		}
		if axis == n {
			return
		}
	}
}

func execTransposeFloat16(operand, output *gobackend.Buffer, it *TransposeIterator) {
	operandFlat := operand.Flat.([]float16.Float16)
	outputFlat := output.Flat.([]float16.Float16)
	for _, value := range operandFlat {
		outputFlat[it.Next()] = value
	}
}

func execTransposeBFloat16(operand, output *gobackend.Buffer, it *TransposeIterator) {
	operandFlat := operand.Flat.([]bfloat16.BFloat16)
	outputFlat := output.Flat.([]bfloat16.BFloat16)
	for _, value := range operandFlat {
		outputFlat[it.Next()] = value
	}
}
