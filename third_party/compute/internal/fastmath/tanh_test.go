// GOSRPPO PATCH: accuracy test for Tanh32.

package fastmath

import (
	"math"
	"testing"
)

func TestTanh32(t *testing.T) {
	const bound = 2e-7
	maxErr, maxErrX := 0.0, float32(0)
	check := func(x float32) {
		got := Tanh32(x)
		want := math.Tanh(float64(x))
		if err := math.Abs(float64(got) - want); err > maxErr {
			maxErr, maxErrX = err, x
		}
		if math.Signbit(float64(got)) != math.Signbit(want) && want != 0 {
			t.Fatalf("Tanh32(%g)=%g: wrong sign, want %g", x, got, want)
		}
		if math.Abs(float64(got)) > 1 {
			t.Fatalf("Tanh32(%g)=%g: |tanh| > 1", x, got)
		}
	}
	// Dense sweep of [-20, 20].
	for i := -4_000_000; i <= 4_000_000; i++ {
		check(float32(i) * 5e-6)
	}
	// Tiny values (log-spaced) including subnormals, and all float32 values around the branch points.
	for e := -149; e <= 4; e++ {
		for m := 0; m < 64; m++ {
			x := float32(math.Ldexp(1+float64(m)/64, e))
			check(x)
			check(-x)
		}
	}
	for _, b := range []float32{1e-4, 0.625, 9} {
		x := b
		for range 1000 {
			x = math.Nextafter32(x, 0)
		}
		for range 2000 {
			check(x)
			check(-x)
			x = math.Nextafter32(x, 100)
		}
	}
	t.Logf("Tanh32: max abs error %.3g at x=%g", maxErr, maxErrX)
	if maxErr > bound {
		t.Errorf("Tanh32: max abs error %.3g at x=%g > %g", maxErr, maxErrX, bound)
	}
	// Special values.
	if got := Tanh32(float32(math.Copysign(0, -1))); got != 0 || !math.Signbit(float64(got)) {
		t.Errorf("Tanh32(-0)=%g, want -0", got)
	}
	if got := Tanh32(float32(math.Inf(1))); got != 1 {
		t.Errorf("Tanh32(+Inf)=%g, want 1", got)
	}
	if got := Tanh32(float32(math.Inf(-1))); got != -1 {
		t.Errorf("Tanh32(-Inf)=%g, want -1", got)
	}
	if got := Tanh32(float32(math.NaN())); got == got {
		t.Errorf("Tanh32(NaN)=%g, want NaN", got)
	}
	for _, x := range []float32{math.MaxFloat32, -math.MaxFloat32, 1e30, -1e30} {
		if got, want := Tanh32(x), float32(math.Tanh(float64(x))); got != want {
			t.Errorf("Tanh32(%g)=%g, want %g", x, got, want)
		}
	}
}

func BenchmarkTanh32(b *testing.B) {
	xs := make([]float32, 1024)
	for i := range xs {
		xs[i] = float32(i-512) / 100
	}
	var sink float32
	b.Run("Tanh32", func(b *testing.B) {
		for range b.N {
			for _, x := range xs {
				sink += Tanh32(x)
			}
		}
	})
	b.Run("math.Tanh", func(b *testing.B) {
		for range b.N {
			for _, x := range xs {
				sink += float32(math.Tanh(float64(x)))
			}
		}
	})
	_ = sink
}
