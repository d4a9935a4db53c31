// gosrppo patch: the float64 accuracy behind exact32_simd_amd64.go's midpoint margin.

//go:build amd64 && goexperiment.simd

package fastmath

import (
	"math"
	"simd/archsimd"
	"testing"
)

// TestTanhFloat64x8Accuracy checks that the vector tanh stays within a small fraction of
// midpointMargin of math.Tanh (in float64 units in the last place) on a dense sweep of both branches
// and the saturated range, so that recomputing lanes within midpointMargin of a float32 midpoint is
// enough to round every lane as math.Tanh does.
func TestTanhFloat64x8Accuracy(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512")
	}
	worst, worstAt := 0.0, 0.0
	var lanes [8]float64
	for i := 0; i < 1<<20; i++ {
		x := -24 + 48*float64(i)/(1<<20)
		for j := range lanes {
			lanes[j] = x + float64(j)*1e-9
		}
		got, _ := tanhFloat64x8(archsimd.LoadFloat64x8(&lanes))
		var out [8]float64
		got.Store(&out)
		for j, v := range lanes {
			want := math.Tanh(v)
			if ulps := math.Abs(out[j]-want) / (math.Nextafter(math.Abs(want), 2) - math.Abs(want)); ulps > worst {
				worst, worstAt = ulps, v
			}
		}
	}
	t.Logf("largest difference from math.Tanh: %.1f ulp at %g (margin %d)", worst, worstAt, midpointMargin)
	if worst > midpointMargin/64 {
		t.Errorf("vector tanh is %.1f ulp from math.Tanh at %g: too close to the %d-ulp margin", worst, worstAt, midpointMargin)
	}
}

// TestExpFloat64x8Accuracy is TestTanhFloat64x8Accuracy for expFloat64x8 over float32's range.
func TestExpFloat64x8Accuracy(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512")
	}
	worst, worstAt := 0.0, 0.0
	var lanes [8]float64
	for i := 0; i < 1<<20; i++ {
		x := -90 + 180*float64(i)/(1<<20)
		for j := range lanes {
			lanes[j] = x + float64(j)*1e-9
		}
		var out [8]float64
		expFloat64x8(archsimd.LoadFloat64x8(&lanes)).Store(&out)
		for j, v := range lanes {
			want := math.Exp(v)
			if ulps := math.Abs(out[j]-want) / (math.Nextafter(want, math.Inf(1)) - want); ulps > worst {
				worst, worstAt = ulps, v
			}
		}
	}
	t.Logf("largest difference from math.Exp: %.1f ulp at %g (margin %d)", worst, worstAt, midpointMargin)
	if worst > midpointMargin/64 {
		t.Errorf("vector exp is %.1f ulp from math.Exp at %g: too close to the %d-ulp margin", worst, worstAt, midpointMargin)
	}
}
