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
