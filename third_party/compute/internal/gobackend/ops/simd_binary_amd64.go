// gosrppo patch: AVX-512 kernels for the element-wise float32 Add, Sub, Mul and Div.

//go:build amd64 && goexperiment.simd

package ops

import "simd/archsimd"

func init() {
	if archsimd.X86.AVX512() {
		simdVVFloat32, simdVSFloat32, simdSVFloat32 = avx512VVFloat32, avx512VSFloat32, avx512SVFloat32
	}
}

func avx512Op(op simdOp, x, y archsimd.Float32x16) archsimd.Float32x16 {
	switch op {
	case simdAdd:
		return x.Add(y)
	case simdSub:
		return x.Sub(y)
	case simdMul:
		return x.Mul(y)
	default:
		return x.Div(y)
	}
}

func avx512VVFloat32(op simdOp, out, a, b []float32) {
	n := len(out)
	a, b = a[:n], b[:n]
	i := 0
	for ; i+16 <= n; i += 16 {
		avx512Op(op, archsimd.LoadFloat32x16Slice(a[i:i+16]), archsimd.LoadFloat32x16Slice(b[i:i+16])).StoreSlice(out[i : i+16])
	}
	for ; i < n; i++ {
		out[i] = scalarFloat32(op, a[i], b[i])
	}
}

func avx512VSFloat32(op simdOp, out, a []float32, c float32) {
	n := len(out)
	a = a[:n]
	cv := archsimd.BroadcastFloat32x16(c)
	i := 0
	for ; i+16 <= n; i += 16 {
		avx512Op(op, archsimd.LoadFloat32x16Slice(a[i:i+16]), cv).StoreSlice(out[i : i+16])
	}
	for ; i < n; i++ {
		out[i] = scalarFloat32(op, a[i], c)
	}
}

func avx512SVFloat32(op simdOp, out []float32, c float32, b []float32) {
	n := len(out)
	b = b[:n]
	cv := archsimd.BroadcastFloat32x16(c)
	i := 0
	for ; i+16 <= n; i += 16 {
		avx512Op(op, cv, archsimd.LoadFloat32x16Slice(b[i:i+16])).StoreSlice(out[i : i+16])
	}
	for ; i < n; i++ {
		out[i] = scalarFloat32(op, c, b[i])
	}
}
