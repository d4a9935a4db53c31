// gosrppo patch: AVX-512 paths of exact32.go's kernels.

//go:build amd64 && goexperiment.simd

package fastmath

import (
	"math"
	"math/bits"
	"simd/archsimd"
)

var haveAVX512 = archsimd.X86.AVX512()

// float32sVector runs kernel over the whole blocks of 16 of in and returns how many elements it did
// (0 without AVX-512). kernel returns a block's results and the mask of its lanes to recompute with
// scalar, which gets the lane's input from the loaded vector (out may be in, already overwritten).
func float32sVector(out, in []float32, kernel func(archsimd.Float32x16) (archsimd.Float32x16, uint16), scalar func(float32) float32) int {
	if !haveAVX512 {
		return 0
	}
	i := 0
	for ; i+16 <= len(out); i += 16 {
		x := archsimd.LoadFloat32x16Slice(in[i : i+16])
		y, redo := kernel(x)
		y.StoreSlice(out[i : i+16])
		if redo != 0 {
			var xs [16]float32
			x.Store(&xs)
			for ; redo != 0; redo &= redo - 1 {
				j := bits.TrailingZeros16(redo)
				out[i+j] = scalar(xs[j])
			}
		}
	}
	return i
}

// tanhFloat32sVector does exact32.go's TanhFloat32s for whole blocks of 16.
func tanhFloat32sVector(out, in []float32) int {
	return float32sVector(out, in, tanhFloat32x16, func(x float32) float32 { return float32(math.Tanh(float64(x))) })
}

// geluTanhFloat32sVector does GeluTanhFloat32s for whole blocks of 16. The float32 operations are
// GeluTanhFloat32's, in its order, one rounding each.
func geluTanhFloat32sVector(out, in []float32) int {
	return float32sVector(out, in, geluTanhFloat32x16, GeluTanhFloat32)
}

func geluTanhFloat32x16(x archsimd.Float32x16) (archsimd.Float32x16, uint16) {
	inner := archsimd.BroadcastFloat32x16(geluSqrt2ByPi).Mul(x.Add(archsimd.BroadcastFloat32x16(geluCubic).Mul(x).Mul(x).Mul(x)))
	t, redo := tanhFloat32x16(inner)
	return x.Mul(archsimd.BroadcastFloat32x16(0.5)).Mul(archsimd.BroadcastFloat32x16(1).Add(t)), redo
}

// tanhFloat32x16 returns float32(tanh(x)) per lane and a bit mask of the lanes the caller must
// recompute with math.Tanh.
func tanhFloat32x16(x archsimd.Float32x16) (archsimd.Float32x16, uint16) {
	lo, redoLo := tanhFloat64x8(x.GetLo().ConvertToFloat64())
	hi, redoHi := tanhFloat64x8(x.GetHi().ConvertToFloat64())
	var t archsimd.Float32x16
	t = t.SetLo(lo.ConvertToFloat32()).SetHi(hi.ConvertToFloat32())
	return t, uint16(redoLo) | uint16(redoHi)<<8
}

// Constants of nearFloat32Midpoint.
const (
	// midpointMargin is how close, in float64 units in the last place, a value may come to a float32
	// rounding midpoint before its lane is recomputed: far above the vector paths' error against
	// math.Tanh and math.Exp (TestTanhFloat64x8Accuracy and TestExpFloat64x8Accuracy log the largest
	// seen and fail above midpointMargin/64).
	midpointMargin = 1 << 12
	float32Dropped = 1<<29 - 1 // the float64 mantissa bits that rounding to float32 drops
	float32Half    = 1 << 28   // their value at a float32 rounding midpoint
)

// tanhFloat64x8 is tanh per lane to float64 accuracy (a few units in the last place against
// math.Tanh), plus the mask of lanes whose float32 rounding it cannot vouch for. It uses
// tanh|v| = E/(E+2) with E = e^{2|v|} − 1 (one formula for all |v|, one division): E = 2^k·q + (2^k − 1)
// with k = round(y/ln 2), r = y − k·ln 2, q = e^r − 1 by its Taylor series (no cancellation at small
// |v|, where k = 0 and E = q), y = 2|v| capped at 40 (tanh is 1 in float64 beyond 19.1).
func tanhFloat64x8(v archsimd.Float64x8) (archsimd.Float64x8, uint8) {
	bc := archsimd.BroadcastFloat64x8
	abs := v.AsUint64x8().And(archsimd.BroadcastUint64x8(1<<63 - 1)).AsFloat64x8()
	y := abs.Add(abs).Min(bc(40))
	k := y.Mul(bc(math.Log2E)).RoundToEvenScaled(0)
	r := y.Sub(k.Mul(bc(ln2Hi))).Sub(k.Mul(bc(ln2Lo)))
	q := bc(1.0 / 6227020800) // 1/13!
	for _, c := range expTaylor[:len(expTaylor)-1] {
		q = q.MulAdd(r, bc(c))
	}
	q = q.Mul(r) // e^r − 1
	e := q.Scale(k).Add(bc(1).Scale(k).Sub(bc(1)))
	t := e.Div(e.Add(bc(2)))
	t = bc(0).Sub(t).Merge(t, v.Less(bc(0)))
	// Zero (whose sign the formula loses), float32 subnormal results and NaN go to math.Tanh.
	redo := nearFloat32Midpoint(t).Or(abs.Less(bc(0x1p-100))).Or(v.IsNaN())
	return t, redo.ToBits()
}

// expFloat64x8 is e^y per lane for |y| ≤ 700, to a few units in the last place: e^y = 2^k·e^r with
// k = round(y/ln 2), r = y − k·ln 2 (|r| ≤ ln2/2), e^r by its Taylor series to r¹³/13! (error below
// 10⁻¹⁷), 2^k applied exactly by VSCALEFPD.
func expFloat64x8(y archsimd.Float64x8) archsimd.Float64x8 {
	bc := archsimd.BroadcastFloat64x8
	k := y.Mul(bc(math.Log2E)).RoundToEvenScaled(0)
	r := y.Sub(k.Mul(bc(ln2Hi))).Sub(k.Mul(bc(ln2Lo)))
	p := bc(1.0 / 6227020800) // 1/13!
	for _, c := range expTaylor {
		p = p.MulAdd(r, bc(c))
	}
	return p.Scale(k)
}

// nearFloat32Midpoint marks the lanes whose value lies within midpointMargin float64 units in the
// last place of a point halfway between two float32 values, where an error of the vector path
// against the standard library could round the other way. (Meaningful for values in float32's
// normal range; callers send the others to the standard library.)
func nearFloat32Midpoint(x archsimd.Float64x8) archsimd.Mask64x8 {
	bits := x.AsUint64x8().And(archsimd.BroadcastUint64x8(float32Dropped))
	return bits.Sub(archsimd.BroadcastUint64x8(float32Half - midpointMargin)).Less(archsimd.BroadcastUint64x8(2 * midpointMargin))
}

// expFloat32sVector does ExpFloat32s for whole blocks of 16.
func expFloat32sVector(out, in []float32) int {
	return float32sVector(out, in, expFloat32x16, func(x float32) float32 { return float32(math.Exp(float64(x))) })
}

func expFloat32x16(x archsimd.Float32x16) (archsimd.Float32x16, uint16) {
	lo, redoLo := expFloat32Lanes(x.GetLo().ConvertToFloat64())
	hi, redoHi := expFloat32Lanes(x.GetHi().ConvertToFloat64())
	var e archsimd.Float32x16
	return e.SetLo(lo.ConvertToFloat32()).SetHi(hi.ConvertToFloat32()), uint16(redoLo) | uint16(redoHi)<<8
}

// expFloat32Lanes is e^x per lane and the lanes to recompute with math.Exp: near a float32
// midpoint, NaN, and results outside float32's normal range (x outside [−87, 88.5], ±Inf included).
func expFloat32Lanes(x archsimd.Float64x8) (archsimd.Float64x8, uint8) {
	bc := archsimd.BroadcastFloat64x8
	inRange := x.GreaterEqual(bc(-87)).And(x.LessEqual(bc(88.5))) // false for NaN
	e := expFloat64x8(x.Max(bc(-87)).Min(bc(88.5)))
	return e, nearFloat32Midpoint(e).ToBits() | ^inRange.ToBits()
}

const (
	ln2Hi = 6.93147180369123816490e-01 // math.Exp's split of ln 2: k·ln2Hi is exact for |k| < 2¹⁰
	ln2Lo = 1.90821492927058770002e-10
)

// expTaylor are 1/12!, 1/11!, …, 1/1!, 1/0!: Horner's coefficients after 1/13!.
var expTaylor = [13]float64{
	1.0 / 479001600, 1.0 / 39916800, 1.0 / 3628800, 1.0 / 362880, 1.0 / 40320, 1.0 / 5040, 1.0 / 720,
	1.0 / 120, 1.0 / 24, 1.0 / 6, 1.0 / 2, 1, 1,
}

// sqrtFloat32sVector does SqrtFloat32s for whole blocks of 16 and returns how many elements it did.
func sqrtFloat32sVector(out, in []float32) int {
	if !haveAVX512 {
		return 0
	}
	i := 0
	for ; i+16 <= len(out); i += 16 {
		archsimd.LoadFloat32x16Slice(in[i : i+16]).Sqrt().StoreSlice(out[i : i+16])
	}
	return i
}
