// gosrppo patch: float32 layer normalization over trailing axes, four rows at a time, and the
// element-wise row helpers it and the fused Dense's bias use.

package fusedops

import "math"

// layerNormRowsEnabled lets layerNorm use layerNormTrailingAxesRows (its test compares with the
// original).
var layerNormRowsEnabled = true

// normalizeRowFloat32 sets out[i] = ((x[i] − mean)·invStd)·gamma[i] + beta[i] (gamma, beta optional),
// one rounding per operation as in layerNormTrailingAxes; layernorm_rows_amd64.go substitutes 16
// lanes at a time (the same operations per lane).
var normalizeRowFloat32 = func(out, x, gamma, beta []float32, mean, invStd float32) {
	for i := range x {
		normalized := (x[i] - mean) * invStd
		if gamma != nil {
			normalized *= gamma[i]
		}
		if beta != nil {
			normalized += beta[i]
		}
		out[i] = normalized
	}
}

// addRowFloat32 sets row[j] += bias[j]; layernorm_rows_amd64.go substitutes 16 lanes at a time.
var addRowFloat32 = func(row, bias []float32) {
	for j, b := range bias {
		row[j] += b
	}
}

// layerNormTrailingAxesRows is layerNormTrailingAxes for float32 with the same results bit for bit.
// Each row's sum and sum of squared deviations is still one sequential float32 accumulation in
// element order, but four rows accumulate in the same loop, so their additions overlap instead of
// each waiting for the previous one's latency; the normalization is normalizeRowFloat32.
func layerNormTrailingAxesRows(inData, outData, gammaData, betaData []float32, normSize int, epsilon float64) {
	normSizeF := float32(normSize)
	rows := len(inData) / normSize
	row := 0
	for ; row+4 <= rows; row += 4 {
		base := row * normSize
		x0 := inData[base : base+normSize]
		x1 := inData[base+normSize : base+2*normSize]
		x2 := inData[base+2*normSize : base+3*normSize]
		x3 := inData[base+3*normSize : base+4*normSize]
		var s0, s1, s2, s3 float32
		for i := range x0 {
			s0 += x0[i]
			s1 += x1[i]
			s2 += x2[i]
			s3 += x3[i]
		}
		m0, m1, m2, m3 := s0/normSizeF, s1/normSizeF, s2/normSizeF, s3/normSizeF
		var v0, v1, v2, v3 float32
		for i := range x0 {
			d0, d1, d2, d3 := x0[i]-m0, x1[i]-m1, x2[i]-m2, x3[i]-m3
			v0 += d0 * d0
			v1 += d1 * d1
			v2 += d2 * d2
			v3 += d3 * d3
		}
		for r, mv := range [4][2]float32{{m0, v0}, {m1, v1}, {m2, v2}, {m3, v3}} {
			invStd := float32(1.0 / math.Sqrt(float64(mv[1]/normSizeF)+epsilon))
			o := base + r*normSize
			normalizeRowFloat32(outData[o:o+normSize], inData[o:o+normSize], gammaData, betaData, mv[0], invStd)
		}
	}
	if row < rows {
		layerNormTrailingAxes(inData[row*normSize:], outData[row*normSize:], gammaData, betaData, normSize, epsilon)
	}
}
