// gosrppo patch: AVX-512 row helpers for layernorm_rows.go (normalization, bias addition).

//go:build amd64 && goexperiment.simd

package fusedops

import "simd/archsimd"

func init() {
	if !archsimd.X86.AVX512() {
		return
	}
	scalarNormalize := normalizeRowFloat32
	normalizeRowFloat32 = func(out, x, gamma, beta []float32, mean, invStd float32) {
		n := len(x)
		if gamma == nil || beta == nil || len(gamma) < n || len(beta) < n {
			scalarNormalize(out, x, gamma, beta, mean, invStd)
			return
		}
		meanV, invV := archsimd.BroadcastFloat32x16(mean), archsimd.BroadcastFloat32x16(invStd)
		i := 0
		for ; i+16 <= n; i += 16 {
			v := archsimd.LoadFloat32x16Slice(x[i : i+16]).Sub(meanV).Mul(invV)
			v.Mul(archsimd.LoadFloat32x16Slice(gamma[i : i+16])).Add(archsimd.LoadFloat32x16Slice(beta[i : i+16])).StoreSlice(out[i : i+16])
		}
		scalarNormalize(out[i:n], x[i:n], gamma[i:n], beta[i:n], mean, invStd)
	}
	scalarAdd := addRowFloat32
	addRowFloat32 = func(row, bias []float32) {
		n := len(bias)
		row = row[:n]
		i := 0
		for ; i+16 <= n; i += 16 {
			archsimd.LoadFloat32x16Slice(row[i : i+16]).Add(archsimd.LoadFloat32x16Slice(bias[i : i+16])).StoreSlice(row[i : i+16])
		}
		scalarAdd(row[i:], bias[i:])
	}
}
