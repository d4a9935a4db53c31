// gosrppo patch: tests of exact32.go against the per-element code it replaces.

package fastmath

import (
	"math"
	"os"
	"runtime"
	"sync"
	"testing"
)

// forAllFloat32 calls check with consecutive blocks of float32 bit patterns covering every pattern
// from lo to hi (inclusive), split over the CPUs.
func forAllFloat32(lo, hi uint32, check func(in []float32) (mismatches int)) int {
	const block = 1 << 16
	var mu sync.Mutex
	total := 0
	next := uint64(lo)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := make([]float32, block)
			for {
				mu.Lock()
				start := next
				next += block
				mu.Unlock()
				if start > uint64(hi) {
					return
				}
				n := min(uint64(block), uint64(hi)-start+1)
				for i := range n {
					in[i] = math.Float32frombits(uint32(start + i))
				}
				bad := check(in[:n])
				mu.Lock()
				total += bad
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return total
}

func sameFloat32(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

// TestFloat32sAllInputs compares TanhFloat32s, GeluTanhFloat32s, ExpFloat32s and SqrtFloat32s with the per-element code
// they replace over every float32 bit pattern (about 4 minutes on 2 cores); with -short, or unless
// GOSRPPO_ALL_FLOAT32=1, over every 61st pattern.
func TestFloat32sAllInputs(t *testing.T) {
	stride := uint32(61)
	if os.Getenv("GOSRPPO_ALL_FLOAT32") == "1" && !testing.Short() {
		stride = 1
	}
	bad := forAllFloat32(0, math.MaxUint32/stride, func(in []float32) int {
		for i := range in {
			in[i] = math.Float32frombits(math.Float32bits(in[i]) * stride)
		}
		out := make([]float32, len(in))
		gelu := make([]float32, len(in))
		exp := make([]float32, len(in))
		TanhFloat32s(out, in)
		GeluTanhFloat32s(gelu, in)
		ExpFloat32s(exp, in)
		sqrt := make([]float32, len(in))
		SqrtFloat32s(sqrt, in)
		n := 0
		for i, x := range in {
			if want := float32(math.Sqrt(float64(x))); !sameFloat32(sqrt[i], want) {
				if n < 3 {
					t.Errorf("SqrtFloat32s(%g) = %g, want %g", x, sqrt[i], want)
				}
				n++
			}
			if want := float32(math.Exp(float64(x))); !sameFloat32(exp[i], want) {
				if n < 3 {
					t.Errorf("ExpFloat32s(%g) = %g, want %g", x, exp[i], want)
				}
				n++
			}
			if want := float32(math.Tanh(float64(x))); !sameFloat32(out[i], want) {
				if n < 3 {
					t.Errorf("TanhFloat32s(%g [%#08x]) = %g [%#08x], want %g [%#08x]", x, math.Float32bits(x),
						out[i], math.Float32bits(out[i]), want, math.Float32bits(want))
				}
				n++
			}
			if want := GeluTanhFloat32(x); !sameFloat32(gelu[i], want) {
				if n < 3 {
					t.Errorf("GeluTanhFloat32s(%g) = %g, want %g", x, gelu[i], want)
				}
				n++
			}
		}
		return n
	})
	if bad > 0 {
		t.Fatalf("%d mismatches", bad)
	}
}

// TestFloat32sLengths checks the tails (lengths that are not a multiple of the vector width)
// and special values.
func TestFloat32sLengths(t *testing.T) {
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), 1e-45, -1e-45, 0.625, -0.625, 0.62499994, 9, 20, 1e30, -3.5, 88.5, 88.8, -87, -87.5, -104}
	for n := 0; n <= 40; n++ {
		in := make([]float32, n)
		for i := range in {
			in[i] = special[i%len(special)] * float32(1+i/len(special))
		}
		out := make([]float32, n)
		TanhFloat32s(out, in)
		inPlace := append([]float32(nil), in...) // the Go backend reuses an input buffer it owns
		TanhFloat32s(inPlace, inPlace)
		gelu := append([]float32(nil), in...)
		GeluTanhFloat32s(gelu, gelu)
		exp := append([]float32(nil), in...)
		ExpFloat32s(exp, exp)
		for i, x := range in {
			if want := float32(math.Tanh(float64(x))); !sameFloat32(out[i], want) || !sameFloat32(inPlace[i], want) {
				t.Errorf("n=%d: TanhFloat32s(%g) = %g (in place %g), want %g", n, x, out[i], inPlace[i], want)
			}
			if want := GeluTanhFloat32(x); !sameFloat32(gelu[i], want) {
				t.Errorf("n=%d: GeluTanhFloat32s(%g) in place = %g, want %g", n, x, gelu[i], want)
			}
			if want := float32(math.Exp(float64(x))); !sameFloat32(exp[i], want) {
				t.Errorf("n=%d: ExpFloat32s(%g) in place = %g, want %g", n, x, exp[i], want)
			}
		}
	}
}

func benchmarkFloat32s(b *testing.B, f func(out, in []float32)) {
	in := make([]float32, 1<<16)
	for i := range in {
		in[i] = float32(i%4000)/500 - 4
	}
	out := make([]float32, len(in))
	b.SetBytes(4 * int64(len(in)))
	for b.Loop() {
		f(out, in)
	}
}

func BenchmarkGeluTanhFloat32s(b *testing.B) { benchmarkFloat32s(b, GeluTanhFloat32s) }
func BenchmarkTanhFloat32s(b *testing.B)     { benchmarkFloat32s(b, TanhFloat32s) }
func BenchmarkExpFloat32s(b *testing.B)      { benchmarkFloat32s(b, ExpFloat32s) }

// BenchmarkGeluTanhPerElement is the per-element code the kernels replace.
func BenchmarkGeluTanhPerElement(b *testing.B) {
	benchmarkFloat32s(b, func(out, in []float32) {
		for i, x := range in {
			out[i] = GeluTanhFloat32(x)
		}
	})
}
