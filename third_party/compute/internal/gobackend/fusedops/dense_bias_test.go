package fusedops

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

// gosrppo patch: the row-by-row bias addition (vector lanes for float32 where AVX-512 is available)
// equals the original element-by-element one (output[i] += bias[i % outFeatures]) exactly.
func TestFusedDenseAddBiasRowByRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, dims := range [][]int{{1}, {7}, {3, 5}, {2, 3, 4}, {128, 512}, {4, 1, 9}, {2, 16}, {3, 37}, {5, 1024}} {
		out := shapes.Make(dtypes.Float32, dims...)
		features := dims[len(dims)-1]
		flat := make([]float32, out.Size())
		for i := range flat {
			flat[i] = rng.Float32()*2 - 1
		}
		bias := make([]float32, features)
		for i := range bias {
			bias[i] = rng.Float32()*2 - 1
		}
		want := slices.Clone(flat)
		for i, v := range want {
			want[i] = v + bias[i%features]
		}
		got := &gobackend.Buffer{RawShape: out, Flat: slices.Clone(flat)}
		fusedDenseAddBias[float32](got, &gobackend.Buffer{RawShape: shapes.Make(dtypes.Float32, features), Flat: bias})
		if !slices.Equal(want, got.Flat.([]float32)) {
			t.Errorf("dims %v: row-by-row bias differs from the element-by-element sum", dims)
		}
	}
}
