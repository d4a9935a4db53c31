package srppo

import (
	"fmt"
	"math"
	"strconv"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/nn"
)

// Parameter names of the Llama family (Hugging Face's LlamaForCausalLM, Qwen2/Qwen3/Mistral alike).
const (
	llamaEmbed     = "model.embed_tokens.weight"
	llamaFinalNorm = "model.norm.weight"
	llamaHead      = "lm_head.weight"
)

// llamaLayer is the name prefix of layer l's parameters.
func llamaLayer(l int) string { return "model.layers." + strconv.Itoa(l) + "." }

// validateLlama checks the Llama-family fields of a config.
func (c Config) validateLlama() error {
	switch c.Family {
	case FamilyLlama, FamilyQwen2, FamilyQwen3, FamilyMistral:
	default:
		return fmt.Errorf("model config: family %q: only %s, %s, %s and %s are supported", c.Family, FamilyLlama, FamilyQwen2, FamilyQwen3, FamilyMistral)
	}
	kv := c.KVHeadCount()
	switch {
	case c.Positions != PositionsRoPE:
		return fmt.Errorf("model config: the %s family needs rope positions", c.Family)
	case kv <= 0 || c.Heads%kv != 0:
		return fmt.Errorf("model config: heads %d is not a multiple of kv_heads %d", c.Heads, kv)
	case c.HeadDimension == 0 && c.DModel%c.Heads != 0:
		return fmt.Errorf("model config: d_model %d is not divisible by heads %d (set head_dim)", c.DModel, c.Heads)
	case c.MaxPositions != 0 && c.Context > c.MaxPositions:
		return fmt.Errorf("model config: context %d exceeds max_position_embeddings %d", c.Context, c.MaxPositions)
	case c.SlidingWindow != 0 && c.Context > c.SlidingWindow:
		return fmt.Errorf("model config: context %d exceeds sliding_window %d: sliding-window attention is not implemented", c.Context, c.SlidingWindow)
	}
	switch s := c.RoPEScaling; s.Type {
	case "":
		if s != (RoPEScaling{}) {
			return fmt.Errorf("model config: rope_scaling without a rope_type")
		}
	case "llama3":
		if s.Factor <= 0 || s.LowFreqFactor <= 0 || s.HighFreqFactor <= s.LowFreqFactor || s.OriginalContext <= 0 {
			return fmt.Errorf("model config: rope_scaling llama3 needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0 (got %+v)", s)
		}
	default:
		return fmt.Errorf("model config: rope_scaling type %q is not implemented (only null and \"llama3\")", s.Type)
	}
	return nil
}

// llamaParamShapes lists the Llama-family parameters under Hugging Face's names, linear weights
// in PyTorch's [out, in] layout.
func (c Config) llamaParamShapes() []paramSpec {
	d, f, dh := c.DModel, c.DFF, c.HeadDim()
	q, kv := c.Heads*dh, c.KVHeadCount()*dh
	specs := []paramSpec{{llamaEmbed, []int{c.VocabSize, d}, initNormal}}
	for l := range c.Layers {
		p := llamaLayer(l)
		specs = append(specs,
			paramSpec{p + "input_layernorm.weight", []int{d}, initOnes},
			paramSpec{p + "self_attn.q_proj.weight", []int{q, d}, initNormal},
			paramSpec{p + "self_attn.k_proj.weight", []int{kv, d}, initNormal},
			paramSpec{p + "self_attn.v_proj.weight", []int{kv, d}, initNormal})
		if c.QKVBias {
			specs = append(specs,
				paramSpec{p + "self_attn.q_proj.bias", []int{q}, initZeros},
				paramSpec{p + "self_attn.k_proj.bias", []int{kv}, initZeros},
				paramSpec{p + "self_attn.v_proj.bias", []int{kv}, initZeros})
		}
		if c.QKNorm {
			specs = append(specs,
				paramSpec{p + "self_attn.q_norm.weight", []int{dh}, initOnes},
				paramSpec{p + "self_attn.k_norm.weight", []int{dh}, initOnes})
		}
		specs = append(specs,
			paramSpec{p + "self_attn.o_proj.weight", []int{d, q}, initResidual},
			paramSpec{p + "post_attention_layernorm.weight", []int{d}, initOnes},
			paramSpec{p + "mlp.gate_proj.weight", []int{f, d}, initNormal},
			paramSpec{p + "mlp.up_proj.weight", []int{f, d}, initNormal},
			paramSpec{p + "mlp.down_proj.weight", []int{d, f}, initResidual})
	}
	specs = append(specs, paramSpec{llamaFinalNorm, []int{d}, initOnes})
	if !c.TiedEmbeddings {
		specs = append(specs, paramSpec{llamaHead, []int{c.VocabSize, d}, initNormal})
	}
	return specs
}

// llamaHidden is hidden for the Llama family: embedding, the blocks, the final RMSNorm.
func (m *LM) llamaHidden(g *Graph, tokens *Node, att attentionInputs) (*Node, []layerCache) {
	x := Gather(m.graphParam(g, llamaEmbed), InsertAxes(tokens, -1)) // [B,S,D]
	x, newCache := m.blocks(g, x, att, m.llamaBlock)
	return m.rmsNorm(g, llamaFinalNorm, x), newCache
}

// rmsNorm is x / √(mean(x²) + ε) · weight over the last axis (LlamaRMSNorm, eps = rms_norm_eps).
func (m *LM) rmsNorm(g *Graph, weight string, x *Node) *Node {
	ms := ReduceAndKeep(Mul(x, x), ReduceMean, -1)
	dims := make([]int, x.Rank())
	for i := range dims {
		dims[i] = 1
	}
	dims[len(dims)-1] = x.Shape().Dimensions[x.Rank()-1]
	w := Reshape(m.graphParam(g, weight), dims...)
	// Div by Sqrt rather than Rsqrt: GoMLX v0.28.2 defines no gradient for Rsqrt.
	return Mul(Div(x, Sqrt(AddScalar(ms, m.Config.LayerNormEps))), w)
}

// linear is x·Wᵀ (+ b) for a PyTorch-layout weight [out, in].
func (m *LM) linear(g *Graph, name string, x *Node, bias bool) *Node {
	var b *Node
	if bias {
		b = m.graphParam(g, name+".bias")
	}
	return nn.Dense(x, m.graphParam(g, name+".weight"), b, compute.DenseLayoutOutputsInput)
}

// llamaBlock is one Llama-family layer:
//
//	x = x + o_proj(Attn(RoPE(norm_q(q)), RoPE(norm_k(k)), v)),  q,k,v = proj(RMSNorm(x))
//	x = x + down(silu(gate(h)) ⊙ up(h)),                        h = RMSNorm(x)
//
// with grouped-query attention (head i reads key/value head i / (heads/kv_heads), as
// transformers' repeat_kv) and the cache holding kv_heads heads.
func (m *LM) llamaBlock(g *Graph, l int, x *Node, att attentionInputs, cache *layerCache) (*Node, layerCache) {
	c := m.Config
	p := llamaLayer(l)
	b, s := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
	h, kvh, dh := c.Heads, c.KVHeadCount(), c.HeadDim()

	hn := m.rmsNorm(g, p+"input_layernorm.weight", x)
	q := Reshape(m.linear(g, p+"self_attn.q_proj", hn, c.QKVBias), b, s, h, dh)
	k := Reshape(m.linear(g, p+"self_attn.k_proj", hn, c.QKVBias), b, s, kvh, dh)
	v := Reshape(m.linear(g, p+"self_attn.v_proj", hn, c.QKVBias), b, s, kvh, dh)
	if c.QKNorm {
		q, k = m.rmsNorm(g, p+"self_attn.q_norm.weight", q), m.rmsNorm(g, p+"self_attn.k_norm.weight", k)
	}
	invFreq := c.ropeInvFreq()
	q, k = rotate(q, att.positions, invFreq), rotate(k, att.positions, invFreq)
	k, v = headsFirst(k), headsFirst(v) // [B·KV,S,dh]
	var updated layerCache
	if cache != nil {
		width := att.mask.Shape().Dimensions[2]
		k, v = writeCache(cache.k, k, att.start, width), writeCache(cache.v, v, att.start, width)
		updated = layerCache{k, v}
	}
	k, v = repeatKV(k, b, h/kvh), repeatKV(v, b, h/kvh)
	x = Add(x, m.linear(g, p+"self_attn.o_proj", attention(q, k, v, att.mask), false))

	hn = m.rmsNorm(g, p+"post_attention_layernorm.weight", x)
	gate := m.linear(g, p+"mlp.gate_proj", hn, false)
	ff := Mul(Mul(gate, Sigmoid(gate)), m.linear(g, p+"mlp.up_proj", hn, false))
	return Add(x, m.linear(g, p+"mlp.down_proj", ff, false)), updated
}

// repeatKV expands keys or values [B·KV,K,dh] of b rows to [B·KV·n,K,dh], each head repeated n times
// in place.
func repeatKV(x *Node, b, n int) *Node {
	if n == 1 {
		return x
	}
	d := x.Shape().Dimensions
	kv := d[0] / b
	x = BroadcastToDims(Reshape(x, b, kv, 1, d[1], d[2]), b, kv, n, d[1], d[2])
	return Reshape(x, b*kv*n, d[1], d[2])
}

// ropeInvFreq is the rotary inverse frequency of each pair, base^(−2i/dh), rescaled for
// rope_scaling "llama3" as transformers' _compute_llama3_parameters does: wavelengths longer than
// original/low_freq_factor are divided by factor, shorter than original/high_freq_factor kept,
// and those between interpolated smoothly.
func (c Config) ropeInvFreq() []float32 {
	dh := c.HeadDim()
	out := make([]float32, dh/2)
	s := c.RoPEScaling
	for i := range out {
		f := 1 / math.Pow(c.RoPEBase, float64(2*i)/float64(dh))
		if s.Type == "llama3" {
			orig := float64(s.OriginalContext)
			lowWave, highWave := orig/s.LowFreqFactor, orig/s.HighFreqFactor
			wave := 2 * math.Pi / f
			switch {
			case wave > lowWave:
				f /= s.Factor
			case wave >= highWave: // medium frequencies
				smooth := (orig/wave - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor)
				f = (1-smooth)*f/s.Factor + smooth*f
			}
		}
		out[i] = float32(f)
	}
	return out
}
