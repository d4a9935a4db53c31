package srppo

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkTrainStep measures one AdamW training step of the design §4 model (2 layers, d_model
// 128, vocabulary 30) on a full batch of 32 rows × 64 tokens, and reports target tokens/s.
func BenchmarkTrainStep(b *testing.B) {
	m, err := NewLM(DefaultConfig(30), 1)
	if err != nil {
		b.Fatal(err)
	}
	tr, err := NewStepper(m, DefaultPretrainConfig())
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	bt := NewBatch(32, 64)
	for i := range bt.Tokens {
		bt.Tokens[i], bt.Targets[i] = int32(rng.IntN(30)), int32(rng.IntN(30))
		bt.Positions[i], bt.Segments[i], bt.LossMask[i] = int32(i%64), 1, 1
	}
	if _, _, err := tr.Step(bt, 1e-3); err != nil { // compile
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := tr.Step(bt, 1e-3); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*32*64)/b.Elapsed().Seconds(), "tokens/s")
}

// benchPrompts are 128 chat prompts of 7–11 tokens over a 30-word vocabulary.
func benchPrompts() [][]int32 {
	rng := rand.New(rand.NewPCG(3, 4))
	prompts := make([][]int32, 128)
	for i := range prompts {
		p := []int32{1, 3}
		for range 4 + rng.IntN(5) {
			p = append(p, int32(5+rng.IntN(25)))
		}
		prompts[i] = append(p, 4)
	}
	return prompts
}

// BenchmarkGenerateCached decodes 128 rows × 24 forced new tokens with the KV-cache sampler (batches
// of 64 rows) and reports generated tokens/s; BenchmarkGenerateNoCache does the same by running the
// full forward pass over the whole sequence for every new token.
func BenchmarkGenerateCached(b *testing.B) {
	m, _ := NewLM(DefaultConfig(30), 1)
	s, err := NewSampler(m)
	if err != nil {
		b.Fatal(err)
	}
	prompts := benchPrompts()
	cfg := SampleConfig{MaxNew: 24, Temperature: 1, StopToken: -1, BatchRows: 64}
	run := func() {
		if _, err := s.Sample(prompts, cfg, rand.New(rand.NewPCG(1, 1))); err != nil {
			b.Fatal(err)
		}
	}
	run()
	b.ResetTimer()
	for b.Loop() {
		run()
	}
	b.ReportMetric(float64(b.N*128*24)/b.Elapsed().Seconds(), "tokens/s")
}

func BenchmarkGenerateNoCache(b *testing.B) {
	m, _ := NewLM(DefaultConfig(30), 1)
	prompts := benchPrompts()
	run := func() {
		rng := rand.New(rand.NewPCG(1, 1))
		for start := 0; start < len(prompts); start += 64 {
			seqs := make([][]int32, 64)
			for i := range seqs {
				seqs[i] = append([]int32(nil), prompts[start+i]...)
			}
			for range 24 {
				batch := make([]Sequence, 64)
				for i, s := range seqs {
					batch[i] = Sequence{Tokens: append(append([]int32(nil), s...), 0)}
				}
				bt, err := OneSequencePerRow(batch, 64, RowWidth(batch, m.Config.Context))
				if err != nil {
					b.Fatal(err)
				}
				// Next-token log-probs at the last column need the whole distribution: the logits
				// graph recomputes every position of every row.
				lp, err := m.LogProbs(bt)
				if err != nil {
					b.Fatal(err)
				}
				for i := range seqs {
					_ = lp[i][len(seqs[i])-1]
					seqs[i] = append(seqs[i], int32(5+rng.IntN(25)))
				}
			}
		}
	}
	run()
	b.ResetTimer()
	for b.Loop() {
		run()
	}
	b.ReportMetric(float64(b.N*128*24)/b.Elapsed().Seconds(), "tokens/s")
}
