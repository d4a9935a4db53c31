package ops

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapeinference"
	"github.com/gomlx/compute/shapes"
)

// gosrppo patch: the run-by-run scatter equals the original element-by-element one, for random
// valid scatters (scatter axes, inserted window axes, window sizes, index batch shapes, updates
// with their window axes in random places) of Sum / Max / Min over float32, including
// the KV-cache write of srppo (cache [N, K, D], one column per index, window [N, ·, D]).
func TestScatterRunsMatchElementwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	defer func() { scatterFastPathEnabled = true }()
	tested, fast := 0, 0
	for trial := 0; tested < 1500 && trial < 20000; trial++ {
		rank := 1 + rng.IntN(4)
		dims := make([]int, rank)
		for a := range dims {
			dims[a] = 1 + rng.IntN(5)
		}
		// Scatter axes (a random non-empty subset, in random order) and inserted ones among them.
		perm := rng.Perm(rank)
		scatterAxes := perm[:1+rng.IntN(rank)]
		var inserted []int
		for _, a := range scatterAxes {
			if rng.IntN(2) == 0 {
				inserted = append(inserted, a)
			}
		}
		slices.Sort(inserted)
		// Window: size 1 on inserted axes, else up to the full dimension (often full).
		var window []int
		windowDimOf := make([]int, rank)
		for a := range rank {
			if slices.Contains(inserted, a) {
				windowDimOf[a] = 1
				continue
			}
			w := dims[a]
			if rng.IntN(3) == 0 {
				w = 1 + rng.IntN(dims[a])
			}
			windowDimOf[a] = w
			window = append(window, w)
		}
		batch := make([]int, rng.IntN(3))
		for i := range batch {
			batch[i] = 1 + rng.IntN(3)
		}
		// Updates: batch axes and window axes interleaved at random, window axes in order.
		uRank := len(batch) + len(window)
		windowPos := rng.Perm(uRank)[:len(window)]
		slices.Sort(windowPos)
		uDims := make([]int, uRank)
		bi, wi := 0, 0
		for p := range uRank {
			if wi < len(windowPos) && windowPos[wi] == p {
				uDims[p] = window[wi]
				wi++
			} else {
				uDims[p] = batch[bi]
				bi++
			}
		}
		idxDims := append(slices.Clone(batch), len(scatterAxes))
		operandShape := shapes.Make(dtypes.Float32, dims...)
		indicesShape := shapes.Make(dtypes.Int32, idxDims...)
		updatesShape := shapes.Make(dtypes.Float32, uDims...)
		if _, err := shapeinference.Scatter(operandShape, indicesShape, updatesShape, len(batch), windowPos, inserted, scatterAxes); err != nil {
			continue
		}
		indices := make([]int32, indicesShape.Size())
		for i := range indices {
			a := scatterAxes[i%len(scatterAxes)]
			indices[i] = int32(rng.IntN(dims[a] - windowDimOf[a] + 1))
		}
		params := &scatterNode{indexVectorAxis: len(batch), updateWindowAxes: windowPos, insertedWindowAxes: inserted, scatterAxesToOperandAxes: scatterAxes}
		tested++
		if uRank > 0 && slices.Contains(windowPos, uRank-1) && !slices.Contains(inserted, rank-1) && uDims[uRank-1] == dims[rank-1] {
			fast++
		}
		for _, op := range []compute.OpType{compute.OpTypeScatterSum, compute.OpTypeScatterMax, compute.OpTypeScatterMin} {
			operand := make([]float32, operandShape.Size())
			for i := range operand {
				operand[i] = float32(rng.NormFloat64())
			}
			updates := make([]float32, updatesShape.Size())
			for i := range updates {
				updates[i] = float32(rng.NormFloat64())
			}
			run := func(enabled bool) []float32 {
				scatterFastPathEnabled = enabled
				out := &gobackend.Buffer{RawShape: operandShape, Flat: slices.Clone(operand)}
				idx := &gobackend.Buffer{RawShape: indicesShape, Flat: indices}
				upd := &gobackend.Buffer{RawShape: updatesShape, Flat: updates}
				if err := execScatterGeneric[float32](op, out, idx, upd, params); err != nil {
					t.Fatal(err)
				}
				return out.Flat.([]float32)
			}
			want, got := run(false), run(true)
			if !slices.Equal(want, got) {
				t.Fatalf("%s operand %v indices %v updates %v window axes %v inserted %v scatter axes %v: runs differ from elements\nwant %v\ngot  %v",
					op, dims, idxDims, uDims, windowPos, inserted, scatterAxes, want, got)
			}
		}
	}
	if tested < 500 || fast < 100 {
		t.Fatalf("only %d valid scatters (%d on the fast path) generated", tested, fast)
	}
	t.Logf("%d scatters, %d of them on the run-by-run path", tested, fast)
}
