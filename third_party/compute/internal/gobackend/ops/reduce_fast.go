// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

// GOSRPPO PATCH (see GOSRPPO_PATCHES.md): fast paths for ReduceSum/Max/Min/Product
// when the reduced axes are contiguous (after dropping size-1 axes).

package ops

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
)

// reduceFastPathEnabled can be turned off by tests to force the generic per-element iterator.
var reduceFastPathEnabled = true

// reduceContiguousLayout tries to describe the reduction of operand dimensions over reduceAxes
// as a reduction of a [outer, reduced, inner] tensor over its middle axis.
//
// Axes with dimension 1 are ignored (they don't change the flat layout, whether reduced or not).
// It returns ok=false if the remaining reduced axes are not contiguous -- the
// generic iterator must be used then.
func reduceContiguousLayout(dims []int, reduceAxes []int) (outer, reduced, inner int, ok bool) {
	isReduced := make([]bool, len(dims))
	for _, axis := range reduceAxes {
		if axis < 0 || axis >= len(dims) {
			return 0, 0, 0, false
		}
		isReduced[axis] = true
	}
	outer, reduced, inner = 1, 1, 1
	// state: 0 = before reduced block, 1 = inside reduced block, 2 = after reduced block.
	state := 0
	for axis, dim := range dims {
		if dim == 1 {
			continue
		}
		if dim <= 0 {
			return 0, 0, 0, false
		}
		if isReduced[axis] {
			switch state {
			case 0:
				state = 1
			case 2:
				return 0, 0, 0, false // Non-contiguous reduced axes.
			}
			reduced *= dim
		} else {
			switch state {
			case 0:
				outer *= dim
			case 1, 2:
				state = 2
				inner *= dim
			}
		}
	}
	return outer, reduced, inner, true
}

// reduceFast executes the reduction with the fast path if possible, it returns false if
// it didn't handle it (and the generic path must be used).
func reduceFast(opType compute.OpType, operand, output *gobackend.Buffer, reduceAxes []int) bool {
	if !reduceFastPathEnabled {
		return false
	}
	switch opType { //nolint:exhaustive
	case compute.OpTypeReduceSum, compute.OpTypeReduceMax, compute.OpTypeReduceMin, compute.OpTypeReduceProduct:
	default:
		return false
	}
	outer, reduced, inner, ok := reduceContiguousLayout(operand.RawShape.Dimensions, reduceAxes)
	if !ok {
		return false
	}
	dtype := output.RawShape.DType
	switch dtype { //nolint:exhaustive
	case dtypes.Float32:
		return reduceFastDispatch[float32](opType, dtype, operand, output, outer, reduced, inner)
	case dtypes.Float64:
		return reduceFastDispatch[float64](opType, dtype, operand, output, outer, reduced, inner)
	case dtypes.Int8:
		return reduceFastDispatch[int8](opType, dtype, operand, output, outer, reduced, inner)
	case dtypes.Int16:
		return reduceFastDispatch[int16](opType, dtype, operand, output, outer, reduced, inner)
	case dtypes.Int32:
		return reduceFastDispatch[int32](opType, dtype, operand, output, outer, reduced, inner)
	case dtypes.Int64:
		return reduceFastDispatch[int64](opType, dtype, operand, output, outer, reduced, inner)
	case dtypes.Uint8:
		return reduceFastDispatch[uint8](opType, dtype, operand, output, outer, reduced, inner)
	case dtypes.Uint16:
		return reduceFastDispatch[uint16](opType, dtype, operand, output, outer, reduced, inner)
	case dtypes.Uint32:
		return reduceFastDispatch[uint32](opType, dtype, operand, output, outer, reduced, inner)
	case dtypes.Uint64:
		return reduceFastDispatch[uint64](opType, dtype, operand, output, outer, reduced, inner)
	}
	return false
}

func reduceFastDispatch[T gobackend.PODNumericConstraints](opType compute.OpType, dtype dtypes.DType,
	operand, output *gobackend.Buffer, outer, reduced, inner int) bool {
	x, okX := operand.Flat.([]T)
	out, okOut := output.Flat.([]T)
	if !okX || !okOut || len(x) != outer*reduced*inner || len(out) != outer*inner {
		return false
	}
	switch opType { //nolint:exhaustive
	case compute.OpTypeReduceSum:
		reduceFastSum(x, out, outer, reduced, inner)
	case compute.OpTypeReduceProduct:
		reduceFastProduct(x, out, outer, reduced, inner)
	case compute.OpTypeReduceMax:
		reduceFastMax(x, out, outer, reduced, inner, dtype.LowestValue().(T))
	case compute.OpTypeReduceMin:
		reduceFastMin(x, out, outer, reduced, inner, dtype.HighestValue().(T))
	default:
		return false
	}
	return true
}

// The fast reductions below accumulate each output element in exactly the same order as the generic
// iterator-based versions (the operand is visited in flat order), so results are bit-identical.

func reduceFastSum[T gobackend.PODNumericConstraints](x, out []T, outer, reduced, inner int) {
	if inner == 1 {
		for o := range out {
			row := x[o*reduced : (o+1)*reduced]
			acc := T(0)
			for _, v := range row {
				acc += v
			}
			out[o] = acc
		}
		return
	}
	for o := range outer {
		dst := out[o*inner : (o+1)*inner]
		for j := range dst {
			dst[j] = 0
		}
		base := o * reduced * inner
		for r := range reduced {
			src := x[base+r*inner : base+(r+1)*inner]
			src = src[:len(dst)]
			for j, v := range src {
				dst[j] += v
			}
		}
	}
}

func reduceFastProduct[T gobackend.PODNumericConstraints](x, out []T, outer, reduced, inner int) {
	if inner == 1 {
		for o := range out {
			row := x[o*reduced : (o+1)*reduced]
			acc := T(1)
			for _, v := range row {
				acc *= v
			}
			out[o] = acc
		}
		return
	}
	for o := range outer {
		dst := out[o*inner : (o+1)*inner]
		for j := range dst {
			dst[j] = 1
		}
		base := o * reduced * inner
		for r := range reduced {
			src := x[base+r*inner : base+(r+1)*inner]
			src = src[:len(dst)]
			for j, v := range src {
				dst[j] *= v
			}
		}
	}
}

func reduceFastMax[T gobackend.PODNumericConstraints](x, out []T, outer, reduced, inner int, initial T) {
	if inner == 1 {
		for o := range out {
			row := x[o*reduced : (o+1)*reduced]
			acc := initial
			for _, v := range row {
				acc = max(acc, v)
			}
			out[o] = acc
		}
		return
	}
	for o := range outer {
		dst := out[o*inner : (o+1)*inner]
		for j := range dst {
			dst[j] = initial
		}
		base := o * reduced * inner
		for r := range reduced {
			src := x[base+r*inner : base+(r+1)*inner]
			src = src[:len(dst)]
			for j, v := range src {
				dst[j] = max(dst[j], v)
			}
		}
	}
}

func reduceFastMin[T gobackend.PODNumericConstraints](x, out []T, outer, reduced, inner int, initial T) {
	if inner == 1 {
		for o := range out {
			row := x[o*reduced : (o+1)*reduced]
			acc := initial
			for _, v := range row {
				acc = min(acc, v)
			}
			out[o] = acc
		}
		return
	}
	for o := range outer {
		dst := out[o*inner : (o+1)*inner]
		for j := range dst {
			dst[j] = initial
		}
		base := o * reduced * inner
		for r := range reduced {
			src := x[base+r*inner : base+(r+1)*inner]
			src = src[:len(dst)]
			for j, v := range src {
				dst[j] = min(dst[j], v)
			}
		}
	}
}
