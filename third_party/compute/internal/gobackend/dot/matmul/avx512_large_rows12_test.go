// gosrppo patch: the 12-row assembly micro-kernel against the 4-row kernel it stands in for.

//go:build amd64 && goexperiment.simd

package matmul

import (
	"math"
	"math/rand/v2"
	"simd/archsimd"
	"testing"

	"github.com/gomlx/compute/internal/gobackend/dot"
)

// TestLargeKernel12RowsIsExact multiplies random matrices of random sizes (rows around the 4-row
// strips and the 24-row panels, contracting lengths across the 128-wide panels, columns across the
// 32-wide strips and the 512-wide panels) with and without the 12-row kernel, in both RHS layouts,
// and requires the same bits; it also checks a few products against a float64 reference. Shapes whose
// panels are whole 12 × 32 blocks (rows a multiple of 12 up to the 24-row panel, columns a multiple
// of 32) go through avx512LargeKernelIntoOutputFloat32, the others through the packed output.
func TestLargeKernel12RowsIsExact(t *testing.T) {
	if !archsimd.X86.AVX512() {
		t.Skip("no AVX-512")
	}
	defer func() { largeKernel12Rows = true }()
	params := AVX512ParamsFloat32
	packedLHS := make([]float32, params.LHSPanelCrossSize*params.PanelContractingSize)
	packedRHS := make([]float32, params.PanelContractingSize*params.RHSPanelCrossSize)
	packedOut := make([]float32, params.LHSPanelCrossSize*params.RHSPanelCrossSize)
	rng := rand.New(rand.NewPCG(5, 6))
	shapes := [][3]int{{48, 256, 768}, {48, 1024, 256}, {64, 128, 512}, {24, 512, 1024}, {25, 129, 33}, {8, 256, 600},
		{9, 300, 1}, {96, 256, 257}, {12, 1, 32}, {13, 7, 31}, {21, 128, 512}, {20, 130, 545}, {72, 300, 64}, {36, 129, 96},
		{128, 1024, 256}, {1152, 128, 384}}
	for c := range 300 {
		m, k, n := 1+rng.IntN(60), 1+rng.IntN(300), 1+rng.IntN(700)
		if c < len(shapes) {
			m, k, n = shapes[c][0], shapes[c][1], shapes[c][2]
		}
		lhs, rhs := make([]float32, m*k), make([]float32, k*n)
		for i := range lhs {
			lhs[i] = float32(rng.NormFloat64())
		}
		for i := range rhs {
			rhs[i] = float32(rng.NormFloat64())
		}
		for _, layout := range []dot.Layout{dot.LayoutNonTransposed, dot.LayoutTransposed} {
			var outs [2][]float32
			for i, on := range []bool{false, true} {
				largeKernel12Rows = on
				outs[i] = make([]float32, m*n)
				avx512LargeMatrixSliceFloat32(layout, lhs, rhs, outs[i], m, n, k, 0, m, 0, n, params, packedLHS, packedRHS, packedOut)
			}
			for i := range outs[0] {
				if math.Float32bits(outs[0][i]) != math.Float32bits(outs[1][i]) {
					t.Fatalf("m=%d k=%d n=%d layout %s: element %d: 12-row kernel %g, 4-row %g", m, k, n, layout, i, outs[1][i], outs[0][i])
				}
			}
			if layout != dot.LayoutNonTransposed {
				continue
			}
			for probe := range 5 { // and both are the product
				i, j := rng.IntN(m), rng.IntN(n)
				if probe == 0 {
					i, j = m-1, n-1
				}
				want := 0.0
				for kk := range k {
					want += float64(lhs[i*k+kk]) * float64(rhs[kk*n+j])
				}
				if got := float64(outs[1][i*n+j]); math.Abs(got-want) > 1e-4*math.Sqrt(float64(k))+1e-5*math.Abs(want) {
					t.Fatalf("m=%d k=%d n=%d: out[%d,%d] = %g, float64 reference %g", m, k, n, i, j, got, want)
				}
			}
		}
	}
}
