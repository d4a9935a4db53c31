package srppo

import (
	"fmt"
	"math"
)

// Size limits of a model config, checked by Config.Validate before anything is allocated: a
// config.json with absurd sizes is an error naming the field and its limit, never an
// out-of-memory crash. They are far above any model this package trains or loads (GPT-2 medium:
// vocab 50257, d_model 1024, 24 layers, 16 heads, d_ff 4096, 1024 positions).
const (
	MaxVocabSize = 1 << 21 // 2,097,152 ids
	MaxDModel    = 1 << 16
	MaxLayers    = 1024
	MaxHeads     = 1024
	MaxDFF       = 1 << 18
	MaxContext   = 1 << 20 // context and max_positions
	// MaxParams caps the parameter count (float32 weights: 64 GiB), so that a config whose fields
	// are each within their limits cannot still ask for an impossible model.
	MaxParams = 1 << 34
)

// checkLimits reports the first size beyond its limit, and non-finite float fields.
func (c Config) checkLimits() error {
	for _, f := range []struct {
		name       string
		value, max int
	}{
		{"vocab_size", c.VocabSize, MaxVocabSize}, {"d_model", c.DModel, MaxDModel}, {"layers", c.Layers, MaxLayers},
		{"heads", c.Heads, MaxHeads}, {"d_ff", c.DFF, MaxDFF}, {"context", c.Context, MaxContext},
		{"max_positions", c.MaxPositions, MaxContext},
	} {
		if f.value > f.max {
			return fmt.Errorf("model config: %s %d exceeds the limit of %d", f.name, f.value, f.max)
		}
	}
	for _, f := range []struct {
		name  string
		value float64
	}{{"rope_base", c.RoPEBase}, {"layer_norm_eps", c.LayerNormEps}} {
		if math.IsNaN(f.value) || math.IsInf(f.value, 0) {
			return fmt.Errorf("model config: %s %v is not a finite number", f.name, f.value)
		}
	}
	return nil
}

// checkParamCount is run after checkLimits and the positivity checks, when every size is bounded
// so that the count cannot overflow.
func (c Config) checkParamCount() error {
	n := 0
	for _, p := range c.paramShapes() {
		k := 1
		for _, d := range p.shape {
			k *= d
		}
		n += k
		if n > MaxParams {
			return fmt.Errorf("model config: more than %d parameters (the limit; d_model %d, layers %d, d_ff %d, vocab_size %d)", MaxParams, c.DModel, c.Layers, c.DFF, c.VocabSize)
		}
	}
	return nil
}
