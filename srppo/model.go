package srppo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/nn"
	"github.com/gosrppo/gosrppo/datasets"
)

// Position encodings supported by Config.Positions.
const (
	PositionsLearned = "learned" // GPT-2's learned absolute position table (wpe)
	PositionsRoPE    = "rope"    // rotary embeddings on queries and keys (GPT-NeoX layout)
)

// Config describes a GPT-style decoder-only language model with pre-LN blocks:
//
//	x = wte[tok] (+ wpe[pos])
//	x = x + Attn(LN1(x));  x = x + MLP(LN2(x))      (per layer)
//	logits = LN_f(x) · W_outᵀ                       (W_out = wte when tied)
//
// Variable names and shapes follow Hugging Face's GPT-2 (wte, wpe, h.N.ln_1, h.N.attn.c_attn with
// [d, 3d] Conv1D layout, …) so GPT-2-family weights map onto it one to one.
type Config struct {
	VocabSize      int     `json:"vocab_size"`
	DModel         int     `json:"d_model"`
	Layers         int     `json:"layers"`
	Heads          int     `json:"heads"`
	DFF            int     `json:"d_ff"`
	Context        int     `json:"context"`         // longest sequence (prompt + response) the model handles
	Positions      string  `json:"positions"`       // PositionsLearned or PositionsRoPE
	RoPEBase       float64 `json:"rope_base"`       // rotary base frequency (RoPE only)
	TiedEmbeddings bool    `json:"tied_embeddings"` // output projection shares wte
	LayerNormEps   float64 `json:"layer_norm_eps"`
	// MaxPositions, when set, is the number of rows of the learned position table (wpe): a
	// pretrained model's n_positions, kept whole so that it is saved back unchanged, while Context
	// caps the sequences actually trained and decoded (1024 positions are costly on a CPU). For the
	// Llama family it is max_position_embeddings, which Context must not exceed.
	MaxPositions int `json:"max_positions,omitempty"`

	// Family selects the Llama-family graph (see llamaBlock) when set to a Hugging Face model_type
	// (FamilyLlama, FamilyQwen2, FamilyQwen3, FamilyMistral): RMSNorm, SwiGLU, separate q/k/v/o
	// projections under Hugging Face's Llama names. Empty: the GPT-2 graph above.
	Family string `json:"family,omitempty"`
	// KVHeads is the number of key/value heads (grouped-query attention); 0 means Heads.
	KVHeads int `json:"kv_heads,omitempty"`
	// HeadDimension is the per-head width when it is not d_model/heads (Qwen3); 0 means d_model/heads.
	HeadDimension int         `json:"head_dim,omitempty"`
	QKNorm        bool        `json:"qk_norm,omitempty"`  // RMSNorm of each head of q and k before RoPE (Qwen3)
	QKVBias       bool        `json:"qkv_bias,omitempty"` // biases on the q, k and v projections (Qwen2, Llama attention_bias)
	RoPEScaling   RoPEScaling `json:"rope_scaling,omitzero"`
	// SlidingWindow is a checkpoint's sliding_window (Mistral), kept to be saved back; Context must
	// not exceed it, since sliding-window attention is not implemented.
	SlidingWindow int `json:"sliding_window,omitempty"`
}

// RoPEScaling is a checkpoint's rope_scaling: none (Type "") or Llama 3's frequency-dependent
// scaling (Type "llama3"), computed as transformers' _compute_llama3_parameters does.
type RoPEScaling struct {
	Type            string  `json:"rope_type,omitempty"`
	Factor          float64 `json:"factor,omitempty"`
	LowFreqFactor   float64 `json:"low_freq_factor,omitempty"`
	HighFreqFactor  float64 `json:"high_freq_factor,omitempty"`
	OriginalContext int     `json:"original_max_position_embeddings,omitempty"`
}

// Llama-family model types (Hugging Face model_type) accepted in Config.Family.
const (
	FamilyLlama   = "llama"
	FamilyQwen2   = "qwen2"
	FamilyQwen3   = "qwen3"
	FamilyMistral = "mistral"
)

// llama reports whether the config uses the Llama-family graph.
func (c Config) llama() bool { return c.Family != "" }

// KVHeadCount is the number of key/value heads: KVHeads, or Heads without grouped-query attention.
func (c Config) KVHeadCount() int {
	if c.KVHeads > 0 {
		return c.KVHeads
	}
	return c.Heads
}

// DefaultConfig is the design §4 model: 2 layers, d_model 128, 4 heads, d_ff 512, context 64,
// learned positions, tied embeddings (~0.4M parameters for a small vocabulary).
func DefaultConfig(vocabSize int) Config {
	return Config{VocabSize: vocabSize, DModel: 128, Layers: 2, Heads: 4, DFF: 512, Context: 64,
		Positions: PositionsLearned, RoPEBase: 10000, TiedEmbeddings: true, LayerNormEps: 1e-5}
}

// Validate reports the first inconsistent field.
func (c Config) Validate() error {
	if err := c.checkLimits(); err != nil {
		return err
	}
	for _, f := range []struct {
		name     string
		value, m int
	}{{"d_model", c.DModel, 1}, {"layers", c.Layers, 1}, {"heads", c.Heads, 1}, {"d_ff", c.DFF, 1}, {"context", c.Context, 2}, {"max_positions", c.MaxPositions, 0}} {
		if f.value < f.m {
			return fmt.Errorf("model config: %s %d must be ≥ %d", f.name, f.value, f.m)
		}
	}
	switch {
	case c.VocabSize < 2:
		return fmt.Errorf("model config: vocab_size %d < 2", c.VocabSize)
	case c.DModel%c.Heads != 0 && c.HeadDimension == 0:
		return fmt.Errorf("model config: d_model %d is not divisible by heads %d", c.DModel, c.Heads)
	case c.Positions != PositionsLearned && c.Positions != PositionsRoPE:
		return fmt.Errorf("model config: positions %q must be %q or %q", c.Positions, PositionsLearned, PositionsRoPE)
	case c.Positions == PositionsRoPE && (c.HeadDim()%2 != 0 || c.RoPEBase <= 0):
		return fmt.Errorf("model config: RoPE needs an even head dimension and rope_base > 0")
	case c.LayerNormEps <= 0:
		return fmt.Errorf("model config: layer_norm_eps must be > 0")
	case c.llama():
		return c.validateLlama()
	case c.MaxPositions != 0 && (c.Positions != PositionsLearned || c.MaxPositions < c.Context):
		return fmt.Errorf("model config: max_positions %d needs learned positions and must be ≥ context %d", c.MaxPositions, c.Context)
	case c.KVHeads != 0 || c.HeadDimension != 0 || c.QKNorm || c.QKVBias || c.RoPEScaling != (RoPEScaling{}) || c.SlidingWindow != 0:
		return fmt.Errorf("model config: kv_heads, head_dim, qk_norm, qkv_bias, rope_scaling and sliding_window need a Llama-family model (family)")
	}
	return c.checkParamCount()
}

// positionRows is the number of rows of the learned position table.
func (c Config) positionRows() int {
	if c.MaxPositions > 0 {
		return c.MaxPositions
	}
	return c.Context
}

// HeadDim is the per-head width: HeadDimension when set, else d_model / heads.
func (c Config) HeadDim() int {
	if c.HeadDimension > 0 {
		return c.HeadDimension
	}
	return c.DModel / c.Heads
}

// paramShapes lists every parameter of the model in a fixed order with its Hugging Face GPT-2 name.
func (c Config) paramShapes() []paramSpec {
	if c.llama() {
		return c.llamaParamShapes()
	}
	d, f := c.DModel, c.DFF
	specs := []paramSpec{{"wte.weight", []int{c.VocabSize, d}, initNormal}}
	if c.Positions == PositionsLearned {
		specs = append(specs, paramSpec{"wpe.weight", []int{c.positionRows(), d}, initNormal})
	}
	for l := range c.Layers {
		p := "h." + strconv.Itoa(l) + "."
		specs = append(specs,
			paramSpec{p + "ln_1.weight", []int{d}, initOnes}, paramSpec{p + "ln_1.bias", []int{d}, initZeros},
			paramSpec{p + "attn.c_attn.weight", []int{d, 3 * d}, initNormal}, paramSpec{p + "attn.c_attn.bias", []int{3 * d}, initZeros},
			paramSpec{p + "attn.c_proj.weight", []int{d, d}, initResidual}, paramSpec{p + "attn.c_proj.bias", []int{d}, initZeros},
			paramSpec{p + "ln_2.weight", []int{d}, initOnes}, paramSpec{p + "ln_2.bias", []int{d}, initZeros},
			paramSpec{p + "mlp.c_fc.weight", []int{d, f}, initNormal}, paramSpec{p + "mlp.c_fc.bias", []int{f}, initZeros},
			paramSpec{p + "mlp.c_proj.weight", []int{f, d}, initResidual}, paramSpec{p + "mlp.c_proj.bias", []int{d}, initZeros},
		)
	}
	specs = append(specs, paramSpec{"ln_f.weight", []int{d}, initOnes}, paramSpec{"ln_f.bias", []int{d}, initZeros})
	if !c.TiedEmbeddings {
		specs = append(specs, paramSpec{"lm_head.weight", []int{c.VocabSize, d}, initNormal})
	}
	return specs
}

type initKind int

const (
	initZeros initKind = iota
	initOnes
	initNormal   // N(0, 0.02), GPT-2's initializer_range
	initResidual // N(0, 0.02/√(2·layers)), GPT-2's scaled init of projections into the residual stream
)

type paramSpec struct {
	name  string
	shape []int
	init  initKind
}

// varPath maps a Hugging Face parameter name ("h.0.ln_1.weight") to its GoMLX variable path.
func varPath(scope, name string) string { return scope + "/" + name }

// LM is a language model: a Config plus its parameters, held in a GoMLX Store under a scope
// (e.g. "/lm"; the critic's trunk lives under another scope of its own store).
type LM struct {
	Config    Config
	Tokenizer datasets.TextTokenizer // the tokenizer the model was trained with (saved with checkpoints)
	Role      string                 // RoleBase, RoleSFT, …, saved with checkpoints; "" when a loaded one records none
	scope     string
	store     *model.Store
	score     scorer   // compiled teacher-forced log-prob graph
	sampler_  *Sampler // compiled cached decoder, created on first use
	bf16      bool     // parameters stored in bfloat16 (StoreBFloat16)
}

// NewLM creates a model with GPT-2's initialisation drawn from a PCG generator seeded by seed,
// on the host, so that the initial weights are the same on every backend.
func NewLM(cfg Config, seed uint64) (*LM, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &LM{Config: cfg, Role: RoleBase, scope: "/lm", store: model.NewStore()}
	rng := rand.New(rand.NewPCG(seed, 0x5e9d))
	resStd := 0.02 / math.Sqrt(2*float64(cfg.Layers))
	for _, p := range cfg.paramShapes() {
		n := 1
		for _, d := range p.shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			switch p.init {
			case initOnes:
				data[i] = 1
			case initNormal:
				data[i] = float32(rng.NormFloat64() * 0.02)
			case initResidual:
				data[i] = float32(rng.NormFloat64() * resStd)
			}
		}
		if _, err := m.store.CreateVariable(varPath(m.scope, p.name), tensors.FromFlatDataAndDimensions(data, p.shape...)); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// NumParams is the number of scalar parameters.
func (m *LM) NumParams() int {
	n := 0
	for _, p := range m.Config.paramShapes() {
		k := 1
		for _, d := range p.shape {
			k *= d
		}
		n += k
	}
	return n
}

// Params returns a copy of every parameter as flat float32 data keyed by Hugging Face name.
func (m *LM) Params() (map[string][]float32, error) {
	out := map[string][]float32{}
	for _, p := range m.Config.paramShapes() {
		v := m.store.GetVariable(varPath(m.scope, p.name))
		if v == nil {
			return nil, fmt.Errorf("parameter %q missing", p.name)
		}
		t, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", p.name, err)
		}
		data, err := paramData(t)
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", p.name, err)
		}
		out[p.name] = data
	}
	return out, nil
}

// SetParams replaces every parameter; names and sizes must match the config exactly.
func (m *LM) SetParams(params map[string][]float32) error {
	specs := m.Config.paramShapes()
	if len(params) != len(specs) {
		for _, p := range specs {
			if _, ok := params[p.name]; !ok {
				return fmt.Errorf("parameter %q missing", p.name)
			}
		}
		return fmt.Errorf("%d parameters given, the model has %d", len(params), len(specs))
	}
	for _, p := range specs {
		data, ok := params[p.name]
		if !ok {
			return fmt.Errorf("parameter %q missing", p.name)
		}
		want := 1
		for _, d := range p.shape {
			want *= d
		}
		if len(data) != want {
			return fmt.Errorf("parameter %q has %d values, want shape %v (%d values)", p.name, len(data), p.shape, want)
		}
		v := m.store.GetVariable(varPath(m.scope, p.name))
		if err := v.SetValue(m.paramTensor(data, p.shape)); err != nil {
			return fmt.Errorf("parameter %q: %w", p.name, err)
		}
	}
	return nil
}

// Clone returns an independent copy of the model (same config, same weights).
func (m *LM) Clone() (*LM, error) {
	params, err := m.Params()
	if err != nil {
		return nil, err
	}
	c, err := NewLM(m.Config, 0)
	if err != nil {
		return nil, err
	}
	c.Tokenizer, c.Role = m.Tokenizer, m.Role
	return c, c.SetParams(params)
}

// graphParam returns the graph node of a parameter.
func (m *LM) graphParam(g *Graph, name string) *Node {
	v := m.store.GetVariable(varPath(m.scope, name))
	if v == nil {
		panic(fmt.Sprintf("srppo: model parameter %q missing", name))
	}
	if m.bf16 { // widened where read (StoreBFloat16)
		return ConvertDType(v.NodeValue(g), dtypes.Float32)
	}
	return v.NodeValue(g)
}

// layerCache is one layer's key/value cache, [B·kv_heads, W, head_dim] each (row-major [B, kv_heads],
// the one batch axis the Go backend's DotGeneral takes without a reshape copy), W ≤ Config.Context
// (see writeCache).
type layerCache struct{ k, v *Node }

// attentionInputs describes where the current tokens sit and what they may attend to.
type attentionInputs struct {
	positions *Node // [B,S] int32 position of each token within its own sequence
	mask      *Node // [B,S,K] bool: query s may attend key k
	// Cached decoding only: the tokens occupy cache columns start … start+S-1, and the updated caches
	// are K (the mask's width) columns wide.
	cache []layerCache
	start *Node // scalar int32
}

// hidden runs the embedding and all blocks and returns the final-LN hidden states [B,S,D] (and the
// updated caches when att.cache is set). It is the one forward pass used by training, teacher-forced
// scoring and cached decoding alike.
func (m *LM) hidden(g *Graph, tokens *Node, att attentionInputs) (*Node, []layerCache) {
	c := m.Config
	if c.llama() {
		return m.llamaHidden(g, tokens, att)
	}
	x := Gather(m.graphParam(g, "wte.weight"), InsertAxes(tokens, -1)) // [B,S,D]
	if c.Positions == PositionsLearned {
		x = Add(x, Gather(m.graphParam(g, "wpe.weight"), InsertAxes(att.positions, -1)))
	}
	x, newCache := m.blocks(g, x, att, m.block)
	return m.layerNorm(g, "ln_f", x), newCache
}

// blockFunc is one transformer block of a model family: layer l applied to x, reading and
// returning its cache when cache is not nil.
type blockFunc func(g *Graph, l int, x *Node, att attentionInputs, cache *layerCache) (*Node, layerCache)

// blocks applies block to x for every layer, threading each layer's KV cache through when
// att.cache is set, and returns the output and the updated caches (nil without a cache).
func (m *LM) blocks(g *Graph, x *Node, att attentionInputs, block blockFunc) (*Node, []layerCache) {
	var newCache []layerCache
	for l := range m.Config.Layers {
		var lc *layerCache
		if att.cache != nil {
			lc = &att.cache[l]
		}
		var updated layerCache
		x, updated = block(g, l, x, att, lc)
		if lc != nil {
			newCache = append(newCache, updated)
		}
	}
	return x, newCache
}

func (m *LM) layerNorm(g *Graph, name string, x *Node) *Node {
	return nn.LayerNorm(x, []int{-1}, m.Config.LayerNormEps, m.graphParam(g, name+".weight"), m.graphParam(g, name+".bias"), nil)
}

func (m *LM) dense(g *Graph, name string, x *Node) *Node {
	return nn.Dense(x, m.graphParam(g, name+".weight"), m.graphParam(g, name+".bias"), compute.DenseLayoutInputOutputs)
}

// block is one pre-LN transformer layer: x + Attn(LN1(x)), then + MLP(LN2(x)).
func (m *LM) block(g *Graph, l int, x *Node, att attentionInputs, cache *layerCache) (*Node, layerCache) {
	c := m.Config
	p := "h." + strconv.Itoa(l) + "."
	b, s := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
	h, dh := c.Heads, c.HeadDim()

	qkv := m.dense(g, p+"attn.c_attn", m.layerNorm(g, p+"ln_1", x)) // [B,S,3D]
	qkv = Reshape(qkv, b, s, 3, h, dh)
	q := Squeeze(SliceAxis(qkv, 2, AxisElem(0)), 2) // [B,S,H,dh]
	k := Squeeze(SliceAxis(qkv, 2, AxisElem(1)), 2)
	v := Squeeze(SliceAxis(qkv, 2, AxisElem(2)), 2)
	if c.Positions == PositionsRoPE {
		q, k = applyRoPE(q, att.positions, c.RoPEBase), applyRoPE(k, att.positions, c.RoPEBase)
	}
	k, v = headsFirst(k), headsFirst(v) // [B·H,S,dh]
	var updated layerCache
	if cache != nil {
		width := att.mask.Shape().Dimensions[2]
		k, v = writeCache(cache.k, k, att.start, width), writeCache(cache.v, v, att.start, width)
		updated = layerCache{k, v}
	}
	ctx := attention(q, k, v, att.mask) // [B,S,D]
	x = Add(x, m.dense(g, p+"attn.c_proj", ctx))
	// GPT-2's MLP uses the tanh approximation of GELU. It is applied separately because GoMLX
	// v0.28.2's fused Dense maps TypeGeluApprox to the exact GELU (TestLogProbsMatchBruteForce
	// catches the ~1e-4 difference).
	ff := geluTanh(m.dense(g, p+"mlp.c_fc", m.layerNorm(g, p+"ln_2", x)))
	return Add(x, m.dense(g, p+"mlp.c_proj", ff)), updated
}

// geluTanh is GELU's tanh approximation, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), fused where
// the backend has it. The decomposed form (also what the gradient is taken through) writes x³ as
// x·x·x: GoMLX's GeluApproximate uses Pow, which the Go backend evaluates with math.Pow per element
// (19 % of a training step in the bench/ profile).
func geluTanh(x *Node) *Node {
	decomposed := func() *Node {
		inner := MulScalar(Add(x, MulScalar(Mul(Mul(x, x), x), 0.044715)), math.Sqrt(2/math.Pi))
		return Mul(MulScalar(x, 0.5), OnePlus(Tanh(inner)))
	}
	out, _ := InternalFusedOpCaller(func() *Node { return BackendFusedGelu(x, false) }, decomposed, true)
	return out
}

// headsFirst turns keys or values [B,S,H,dh] into the attention layout [B·H,S,dh].
func headsFirst(x *Node) *Node {
	d := x.Shape().Dimensions
	return Reshape(TransposeAllAxes(x, 0, 2, 1, 3), d[0]*d[2], d[1], d[3])
}

// attention is masked scaled dot-product attention: softmax(q·kᵀ/√dh + mask)·v.
// q [B,S,H,dh], k and v [B·H,K,dh], mask [B,S,K] → [B,S,H·dh].
//
// Keys, values and the per-head products keep batch and heads merged in one leading axis: the Go
// backend's DotGeneral takes a single leading batch axis, and merging [B,H] itself costs a copy of
// any operand that is still in use elsewhere (the decoding caches, the training activations kept
// for the backward pass).
func attention(q, k, v, mask *Node) *Node {
	b, s, h, dh := q.Shape().Dimensions[0], q.Shape().Dimensions[1], q.Shape().Dimensions[2], q.Shape().Dimensions[3]
	kLen := k.Shape().Dimensions[1]
	scores := MulScalar(Einsum("nsd,nkd->nsk", headsFirst(q), k), 1/math.Sqrt(float64(dh))) // [B·H,S,K]
	// Masked keys get a large negative score rather than -inf so that a fully masked (padding) query
	// row stays finite; its output is never used. The mask is broadcast over heads and then merged
	// (a fresh buffer, so the reshape is free); the probabilities stay [B·H,S,K], since reshaping
	// them would copy them (the backward pass keeps them).
	keep := Reshape(BroadcastToDims(InsertAxes(mask, 1), b, h, s, kLen), b*h, s, kLen)
	probs := Softmax(Where(keep, scores, AddScalar(ZerosLike(scores), -1e9)), -1)
	out := Reshape(Einsum("nsk,nkd->nsd", probs, v), b, h, s, dh)
	return Reshape(TransposeAllAxes(out, 0, 2, 1, 3), b, s, h*dh)
}

// cacheBucket is the multiple that the width of a decoding key/value cache is rounded up to.
// A cache holds the columns written so far, rounded up to the next multiple of cacheBucket (capped
// at the context): attention runs over that width, not the whole context, and the cache is copied
// into a wider one only when it fills (every cacheBucket steps). Each (rows, tokens, width) shape is
// compiled once and recurs on every rollout.
const cacheBucket = 8

// cacheWidth is the cache width that holds columns 0 … cols−1: cols rounded up to cacheBucket,
// capped at the context.
func cacheWidth(cols, context int) int {
	return min((cols+cacheBucket-1)/cacheBucket*cacheBucket, context)
}

// writeCache writes x [B·KV,S,dh] into columns start … start+S−1 of cache [B·KV,W,dh] and returns the
// new cache, width columns wide (width ≥ W: the cache is first extended with zero columns).
//
// Every column at or after start must be zero (columns are written once, in order, into caches that
// start zeroed), so the write is a scatter-add of the new columns: with the cache buffer donated
// (Sampler.step), the pure-Go backend adds in place and touches only the S new columns. The
// previous scheme, a select over the whole [B,KV,context,dh] cache every step, was the decoder's
// largest cost (bench/NOTES.md). The tagged Go backend has no DynamicUpdateSlice.
func writeCache(cache, x, start *Node, width int) *Node {
	g := x.Graph()
	d := cache.Shape().Dimensions
	if d[1] < width {
		pad := Zeros(g, shapes.Make(cache.DType(), d[0], width-d[1], d[2]))
		cache = Concatenate([]*Node{cache, pad}, 1)
	}
	s := x.Shape().Dimensions[1]
	cols := Add(Iota(g, shapes.Make(dtypes.Int32, s, 1), 0), start) // [S,1]
	// XLA scatter: indices [S,1] name the cache column (operand axis 1) of update column s; the
	// update window is the [B·KV,·,dh] slab (update axes 0 and 2).
	return BackendScatterSum(cache, cols, x, 1, []int{0, 2}, []int{1}, []int{1}, true, true)
}

// applyRoPE rotates pairs (x_i, x_{i+dh/2}) of x [B,S,H,dh] by angle pos·base^(−2i/dh).
func applyRoPE(x, positions *Node, base float64) *Node {
	dh := x.Shape().Dimensions[3]
	invFreq := make([]float32, dh/2)
	for i := range invFreq {
		invFreq[i] = float32(math.Pow(base, -2*float64(i)/float64(dh)))
	}
	return rotate(x, positions, invFreq)
}

// rotate applies rotary embeddings with the given inverse frequencies (one per pair) to x [B,S,H,dh].
func rotate(x, positions *Node, invFreq []float32) *Node {
	g := x.Graph()
	dh := x.Shape().Dimensions[3]
	half := dh / 2
	angles := Mul(InsertAxes(ConvertDType(positions, x.DType()), -1), Reshape(Const(g, invFreq), 1, 1, half)) // [B,S,half]
	cos, sin := InsertAxes(Cos(angles), 2), InsertAxes(Sin(angles), 2)                                        // [B,S,1,half]
	x1, x2 := SliceAxis(x, 3, AxisRange(0, half)), SliceAxis(x, 3, AxisRange(half, dh))
	return Concatenate([]*Node{Sub(Mul(x1, cos), Mul(x2, sin)), Add(Mul(x2, cos), Mul(x1, sin))}, 3)
}

// outputWeight is the [V,D] output projection (wte when tied).
func (m *LM) outputWeight(g *Graph) *Node {
	if m.Config.TiedEmbeddings {
		if m.Config.llama() {
			return m.graphParam(g, llamaEmbed)
		}
		return m.graphParam(g, "wte.weight")
	}
	return m.graphParam(g, "lm_head.weight")
}

// logits projects hidden states [B,S,D] to vocabulary logits [B,S,V].
func (m *LM) logits(g *Graph, hidden *Node) *Node {
	return Einsum("bsd,vd->bsv", hidden, m.outputWeight(g))
}

// tokenLogProbs is log π(target_t | context_t) = logit[target] − logsumexp(logits) for hidden states
// [B,S,D] and targets [B,S]; it also returns the logits for callers that need the full distribution.
// Where response [B,S] is 1 the logits are those of the response distribution (responseLogits);
// response may be nil (no restriction anywhere).
func (m *LM) tokenLogProbs(g *Graph, hidden, targets, response *Node) (logp, logits *Node) {
	logits = m.logits(g, hidden)
	targetEmb := Gather(m.outputWeight(g), InsertAxes(targets, -1)) // [B,S,D]
	targetLogit := ReduceSum(Mul(hidden, targetEmb), -1)
	if bias := m.responseBias(g); bias != nil && response != nil {
		logits = Add(logits, Mul(InsertAxes(response, -1), InsertAxes(bias, 0, 0))) // [B,S,1]·[1,1,V]
		targetLogit = Add(targetLogit, Mul(response, Gather(bias, InsertAxes(targets, -1))))
	}
	return Sub(targetLogit, logSumExp(logits)), logits
}

// nonResponseLogit is added to the logit of a token that can never be part of a response. It is
// finite so that p·log p stays 0·(−1e9) = 0 in the entropy, and far enough below any real logit
// that exp underflows to exactly 0 in float32.
const nonResponseLogit = -1e9

// NonResponseIDs are the token ids that get probability 0 in a response: the tokenizer's
// special tokens other than EOS (<pad>, <bos>, <q>, <a> for the word world). The response
// distribution is
//
//	π_resp(y | ·) = π(y | ·)·[y ∉ S] / Σ_{y' ∉ S} π(y' | ·),
//
// the same in sampling, teacher-forced scoring (policy, π_sft, π_pt, reference) and the PPO
// update, so the first minibatch's ratio is exactly 1 and no response can collect reward for a
// token neither π_sft nor π_pt ever saw in a response. Nil without a tokenizer.
func (m *LM) NonResponseIDs() []int32 {
	if m.Tokenizer == nil {
		return nil
	}
	return m.Tokenizer.NonResponseIDs()
}

// responseBias is the [V] vector added to logits to get the response distribution (0, or
// nonResponseLogit at NonResponseIDs), as a graph constant; nil when nothing is excluded.
func (m *LM) responseBias(g *Graph) *Node {
	ids := m.NonResponseIDs()
	if len(ids) == 0 {
		return nil
	}
	bias := make([]float32, m.Config.VocabSize)
	for _, id := range ids {
		if id >= 0 && int(id) < len(bias) {
			bias[id] = nonResponseLogit
		}
	}
	return Const(g, bias)
}

// logSumExp over the last axis, stabilised by the (gradient-free) maximum.
func logSumExp(x *Node) *Node {
	mx := StopGradient(ReduceAndKeep(x, ReduceMax, -1))
	return Add(Log(ReduceSum(Exp(Sub(x, mx)), -1)), Squeeze(mx, -1))
}

// sequenceMask builds the attention mask [B,T,T] for packed or padded rows: query t may attend key
// u iff u ≤ t and both belong to the same segment (segment 0 is padding and attends nothing).
func sequenceMask(segments *Node) *Node {
	g := segments.Graph()
	t := segments.Shape().Dimensions[1]
	q := InsertAxes(segments, 2) // [B,T,1]
	k := InsertAxes(segments, 1) // [B,1,T]
	sameSeg := And(Equal(q, k), GreaterThan(k, ScalarZero(g, dtypes.Int32)))
	causal := GreaterOrEqual(Iota(g, shapes.Make(dtypes.Int32, t, t), 0), Iota(g, shapes.Make(dtypes.Int32, t, t), 1))
	return And(sameSeg, InsertAxes(causal, 0))
}
