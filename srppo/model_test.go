package srppo

import (
	"math"
	"math/rand/v2"
	"testing"
)

// tinyConfig is a model small enough for unit tests.
func tinyConfig(positions string) Config {
	c := DefaultConfig(11)
	c.DModel, c.Layers, c.Heads, c.DFF, c.Context, c.Positions = 16, 2, 2, 32, 12, positions
	return c
}

// randomizedLM returns a model whose every parameter is drawn from N(0, 0.3) (LN gains around 1),
// so that logits are far from uniform and comparisons are meaningful.
func randomizedLM(t *testing.T, cfg Config, seed uint64) *LM {
	t.Helper()
	m, err := NewLM(cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	params, err := m.Params()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range cfg.paramShapes() {
		for i := range params[p.name] {
			params[p.name][i] = float32(rng.NormFloat64() * 0.3)
			if p.init == initOnes {
				params[p.name][i] += 1
			}
		}
	}
	if err := m.SetParams(params); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLogProbsMatchBruteForce(t *testing.T) {
	for _, pos := range []string{PositionsLearned, PositionsRoPE} {
		t.Run(pos, func(t *testing.T) {
			cfg := tinyConfig(pos)
			cfg.TiedEmbeddings = pos == PositionsLearned // cover both heads
			m := randomizedLM(t, cfg, 3)
			params, _ := m.Params()
			seqs := []Sequence{
				{Tokens: []int32{1, 5, 6, 7, 2}, LossFrom: 0},
				{Tokens: []int32{1, 3, 9, 10, 4, 8, 2}, LossFrom: 3},
				{Tokens: []int32{1, 4, 2}, LossFrom: 1},
			}
			// Packed: sequences 0 and 2 share row 0 as separate segments.
			bt, err := BatchRows([][]Sequence{{seqs[0], seqs[2]}, {seqs[1]}}, 3, cfg.Context)
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.LogProbs(bt)
			if err != nil {
				t.Fatal(err)
			}
			check := func(row, col int, s Sequence) {
				ref := refForward(cfg, params, s.Tokens[:len(s.Tokens)-1])
				for i := range len(s.Tokens) - 1 {
					want := refLogSoftmax(ref[i])[s.Tokens[i+1]]
					if d := math.Abs(float64(got[row][col+i]) - want); d > 1e-4 {
						t.Errorf("row %d col %d: log-prob %.6f, brute force %.6f", row, col+i, got[row][col+i], want)
					}
				}
			}
			check(0, 0, seqs[0])
			check(0, len(seqs[0].Tokens)-1, seqs[2])
			check(1, 0, seqs[1])
		})
	}
}

func TestCausalMask(t *testing.T) {
	for _, pos := range []string{PositionsLearned, PositionsRoPE} {
		m := randomizedLM(t, tinyConfig(pos), 5)
		a := Sequence{Tokens: []int32{1, 5, 6, 7, 8, 9, 2}}
		b := Sequence{Tokens: []int32{1, 5, 6, 7, 3, 3, 3}} // differs from index 4 on
		lp := func(s Sequence) []float32 {
			out, err := m.ResponseLogProbs([]Sequence{s}, 2)
			if err != nil {
				t.Fatal(err)
			}
			return out[0]
		}
		la, lb := lp(a), lp(b)
		// Targets 0..2 (predicting tokens 1..3) see only the shared prefix.
		for i := range 3 {
			if la[i] != lb[i] {
				t.Errorf("%s: log-prob %d changed (%v → %v) when only later tokens changed", pos, i, la[i], lb[i])
			}
		}
		if la[4] == lb[4] {
			t.Errorf("%s: log-prob 4 did not change although its context changed", pos)
		}
	}
}

func TestPackedSegmentsAreIsolated(t *testing.T) {
	m := randomizedLM(t, tinyConfig(PositionsLearned), 9)
	s := Sequence{Tokens: []int32{1, 6, 7, 8, 2}}
	alone, err := OneSequencePerRow([]Sequence{s}, 1, 12)
	if err != nil {
		t.Fatal(err)
	}
	packed, err := BatchRows([][]Sequence{{{Tokens: []int32{1, 9, 9, 10, 2}}, s}}, 1, 12)
	if err != nil {
		t.Fatal(err)
	}
	la, _ := m.LogProbs(alone)
	lp, _ := m.LogProbs(packed)
	for i := range 4 {
		if d := math.Abs(float64(la[0][i] - lp[0][4+i])); d > 1e-5 {
			t.Errorf("token %d: alone %v, packed after another sequence %v", i, la[0][i], lp[0][4+i])
		}
	}
}
