package srppo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gosrppo/gosrppo/datasets"
)

// SampleConfig controls decoding.
type SampleConfig struct {
	MaxNew      int     `json:"max_new"`     // new tokens per row at most
	Greedy      bool    `json:"greedy"`      // argmax decoding (Temperature, TopK, TopP ignored)
	Temperature float64 `json:"temperature"` // > 0
	TopK        int     `json:"top_k"`       // keep the k most likely tokens (0: all)
	TopP        float64 `json:"top_p"`       // keep the smallest set with mass ≥ p (0 or 1: all)
	StopToken   int32   `json:"stop_token"`  // a row stops after emitting it (datasets.EOSID for chat)
	BatchRows   int     `json:"batch_rows"`  // rows per compiled batch (fixed shape)
}

// Samples are decoded continuations, one row per prompt.
type Samples struct {
	Tokens [][]int32 // generated tokens, up to and including the stop token
	// LogProbs[r][t] is log π(Tokens[r][t] | prompt, Tokens[r][<t]) under the model at temperature 1
	// without top-k/top-p filtering: the policy log-prob that PPO's ratio needs.
	LogProbs [][]float32
	Stopped  []bool // the row emitted StopToken (false: truncated at MaxNew)
}

// Sampler decodes with a key/value cache: one prefill pass over the (left-padded) prompts, then
// one pass per new token that reads the cached keys and values of all earlier columns. The caches
// are as wide as the columns written so far rounded up to a multiple of cacheBucket, and each step
// writes its columns in place (writeCache). Shapes come from a small fixed set (batch rows, the
// prompt width rounded up to a multiple of widthBucket, cache widths in steps of cacheBucket), each
// compiled once, on its first use, and reused on every later rollout.
type Sampler struct {
	m       *LM
	exec    *model.Exec
	backend compute.Backend
}

// NewSampler prepares cached decoding for m.
func NewSampler(m *LM) (*Sampler, error) {
	backend, err := Backend()
	if err != nil {
		return nil, err
	}
	s := &Sampler{m: m, backend: backend}
	// Inputs: tokens [B,S], positions [B,S], mask [B,S,K], start (scalar), then 2·layers caches
	// [B·KV,W,dh] with W ≤ K. Outputs: log-softmax at the last column [B,V], then the updated
	// caches [B·KV,K,dh].
	s.exec, err = model.NewExec(backend, m.store, func(scope *model.Scope, in []*Node) []*Node {
		g := in[0].Graph()
		cache := make([]layerCache, m.Config.Layers)
		for l := range cache {
			cache[l] = layerCache{k: in[4+2*l], v: in[5+2*l]}
		}
		h, updated := m.hidden(g, in[0], attentionInputs{positions: in[1], mask: in[2], cache: cache, start: in[3]})
		s := h.Shape().Dimensions[1]
		last := SliceAxis(h, 1, AxisElem(s-1))  // [B,1,D]
		logits := Squeeze(m.logits(g, last), 1) // [B,V]: every decoded token is a response token
		if bias := m.responseBias(g); bias != nil {
			logits = Add(logits, InsertAxes(bias, 0))
		}
		logp := LogSoftmax(logits, -1)
		out := []*Node{logp}
		for _, c := range updated {
			out = append(out, c.k, c.v)
		}
		return out
	})
	if err != nil {
		return nil, err
	}
	// One graph per (rows, tokens, cache width in, cache width out): bounded by the batch sizes,
	// prompt-width buckets and context/cacheBucket widths, more than the default cache of 32.
	s.exec.SetMaxCache(-1)
	return s, nil
}

// emptyCaches returns zeroed caches for b rows, one cacheBucket wide (step widens them as needed).
func (s *Sampler) emptyCaches(b int) []any {
	c := s.m.Config
	out := make([]any, 0, 2*c.Layers)
	for range 2 * c.Layers {
		out = append(out, tensors.FromShape(shapes.Make(dtypes.Float32, b*c.KVHeadCount(), min(cacheBucket, c.Context), c.HeadDim())))
	}
	return out
}

// step runs tokens [b][S] sitting at cache columns start…start+S−1 and returns log-probs [b][V]
// and the new caches. pad[r] is the number of left-padding columns of row r. The caches passed in
// hold columns 0…start−1 (zero beyond) and are consumed: their buffers are donated to the step,
// which writes the new columns into them in place.
func (s *Sampler) step(tokens [][]int32, pad []int, start int, caches []any) ([][]float32, []any, error) {
	b, sLen := len(tokens), len(tokens[0])
	if start+sLen > s.m.Config.Context {
		return nil, nil, fmt.Errorf("decoding step at column %d: %d tokens exceed the context of %d", start, sLen, s.m.Config.Context)
	}
	ctx := cacheWidth(start+sLen, s.m.Config.Context) // width of the caches this step returns
	tok := make([]int32, b*sLen)
	pos := make([]int32, b*sLen)
	mask := make([]bool, b*sLen*ctx)
	for r := range b {
		for i := range sLen {
			col := start + i
			tok[r*sLen+i] = tokens[r][i]
			pos[r*sLen+i] = int32(max(col-pad[r], 0))
			for c := pad[r]; c <= col; c++ {
				mask[(r*sLen+i)*ctx+c] = true
			}
			if col < pad[r] { // padding query: let it see itself so its softmax is defined
				mask[(r*sLen+i)*ctx+col] = true
			}
		}
	}
	in := []any{tensors.FromFlatDataAndDimensions(tok, b, sLen), tensors.FromFlatDataAndDimensions(pos, b, sLen),
		tensors.FromFlatDataAndDimensions(mask, b, sLen, ctx), tensors.FromScalar(int32(start))}
	for _, c := range caches {
		t, ok := c.(*tensors.Tensor)
		if !ok {
			return nil, nil, fmt.Errorf("decoding step at column %d: cache is a %T, not a tensor", start, c)
		}
		donated, err := DonateTensorBuffer(t, s.backend, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("decoding step at column %d: %w", start, err)
		}
		in = append(in, donated)
	}
	out, err := s.exec.Call(in...)
	if err != nil {
		return nil, nil, fmt.Errorf("decoding step at column %d: %w", start, err)
	}
	flat, err := tensors.CopyFlatData[float32](out[0])
	if err != nil {
		return nil, nil, err
	}
	v := s.m.Config.VocabSize
	logp := make([][]float32, b)
	for r := range logp {
		logp[r] = flat[r*v : (r+1)*v]
	}
	next := make([]any, len(out)-1)
	for i, t := range out[1:] {
		next[i] = t
	}
	return logp, next, nil
}

// Sample decodes continuations of prompts (token ids, each starting with <bos>) with rng drawing
// the randomness (unused when greedy). Rows are processed in batches of cfg.BatchRows.
func (s *Sampler) Sample(prompts [][]int32, cfg SampleConfig, rng *rand.Rand) (*Samples, error) {
	if cfg.BatchRows <= 0 || cfg.MaxNew <= 0 {
		return nil, fmt.Errorf("sample config: batch_rows and max_new must be > 0")
	}
	if !cfg.Greedy && cfg.Temperature <= 0 {
		return nil, fmt.Errorf("sample config: temperature must be > 0 (or set greedy)")
	}
	out := &Samples{}
	for start := 0; start < len(prompts); start += cfg.BatchRows {
		chunk := prompts[start:min(start+cfg.BatchRows, len(prompts))]
		if err := s.sampleBatch(chunk, cfg, rng, out); err != nil {
			return nil, fmt.Errorf("prompts %d…: %w", start, err)
		}
	}
	return out, nil
}

func (s *Sampler) sampleBatch(prompts [][]int32, cfg SampleConfig, rng *rand.Rand, out *Samples) error {
	b, ctx := cfg.BatchRows, s.m.Config.Context
	width := 0
	for i, p := range prompts {
		if len(p) == 0 {
			return fmt.Errorf("prompt %d is empty", i)
		}
		width = max(width, len(p))
	}
	if width+cfg.MaxNew > ctx {
		return fmt.Errorf("a prompt of %d tokens plus %d new tokens exceeds the context of %d", width, cfg.MaxNew, ctx)
	}
	// Bucketed prompt width: few shapes, each compiled once.
	width = bucketWidth(width, ctx-cfg.MaxNew)
	maxNew := cfg.MaxNew
	rows := make([][]int32, b)
	pad := make([]int, b)
	for r := range b {
		rows[r] = make([]int32, width)
		if r < len(prompts) {
			pad[r] = width - len(prompts[r])
			copy(rows[r][pad[r]:], prompts[r])
		} else {
			pad[r] = width - 1
			rows[r][width-1] = datasets.BOSID
		}
	}
	logp, caches, err := s.step(rows, pad, 0, s.emptyCaches(b))
	if err != nil {
		return err
	}
	n := len(prompts)
	toks, lps := make([][]int32, n), make([][]float32, n)
	stopped := make([]bool, n)
	for t := range maxNew {
		next := make([][]int32, b)
		active := false
		for r := range b {
			next[r] = []int32{datasets.PadID}
			if r >= n || stopped[r] {
				continue
			}
			tok := pickToken(logp[r], cfg, rng)
			toks[r] = append(toks[r], tok)
			lps[r] = append(lps[r], logp[r][tok])
			next[r][0] = tok
			if tok == cfg.StopToken {
				stopped[r] = true
			} else {
				active = true
			}
		}
		if !active || t == maxNew-1 {
			break
		}
		if logp, caches, err = s.step(next, pad, width+t, caches); err != nil {
			return err
		}
	}
	out.Tokens = append(out.Tokens, toks...)
	out.LogProbs = append(out.LogProbs, lps...)
	out.Stopped = append(out.Stopped, stopped...)
	return nil
}

// pickToken draws one token from log-probs: argmax when greedy, otherwise from the distribution
// softmax(logp/T) restricted to the top-k tokens and then to the smallest top-p nucleus.
func pickToken(logp []float32, cfg SampleConfig, rng *rand.Rand) int32 {
	if cfg.Greedy {
		best := 0
		for i, v := range logp {
			if v > logp[best] {
				best = i
			}
		}
		return int32(best)
	}
	probs := FilteredProbs(logp, cfg.Temperature, cfg.TopK, cfg.TopP)
	u := rng.Float64()
	var acc float64
	last := 0
	for i, p := range probs {
		if p == 0 {
			continue
		}
		acc += p
		last = i
		if u < acc {
			return int32(i)
		}
	}
	return int32(last) // rounding left u ≥ Σp: the last allowed token
}

// FilteredProbs is the sampling distribution: p_i ∝ exp(logp_i/T) over the k most likely tokens
// (all when k = 0), then restricted to the smallest set of most likely tokens whose mass is ≥ p
// (all when p is 0 or ≥ 1), renormalised. Ties are broken by token id.
func FilteredProbs(logp []float32, temperature float64, topK int, topP float64) []float64 {
	order := make([]int, len(logp))
	for i := range order {
		order[i] = i
	}
	// Descending, ties in token order. SortStableFunc gives the same unique order as a stable sort
	// with "greater than" as the less function, without sort.SliceStable's reflection (this runs for
	// every row at every decoding step, between the graph calls).
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case logp[a] > logp[b]:
			return -1
		case logp[b] > logp[a]:
			return 1
		}
		return 0
	})
	keep := len(order)
	if topK > 0 && topK < keep {
		keep = topK
	}
	probs := make([]float64, len(logp))
	mx := float64(logp[order[0]]) / temperature
	var z float64
	for _, i := range order[:keep] {
		probs[i] = math.Exp(float64(logp[i])/temperature - mx)
		z += probs[i]
	}
	for _, i := range order[:keep] {
		probs[i] /= z
	}
	if topP > 0 && topP < 1 {
		var mass float64
		cut := keep
		for j, i := range order[:keep] {
			mass += probs[i]
			if mass >= topP {
				cut = j + 1
				break
			}
		}
		z = 0
		for j, i := range order[:keep] {
			if j >= cut {
				probs[i] = 0
			}
			z += probs[i]
		}
		for _, i := range order[:cut] {
			probs[i] /= z
		}
	}
	return probs
}

// Greedy decodes up to maxNew tokens for each prompt by argmax, stopping at the tokenizer's EOS
// (<eos> without a tokenizer).
func (m *LM) Greedy(prompts [][]int32, maxNew int) ([][]int32, error) {
	s, err := m.sampler()
	if err != nil {
		return nil, err
	}
	stop := datasets.EOSID
	if m.Tokenizer != nil {
		stop = m.Tokenizer.EOS()
	}
	out, err := s.Sample(prompts, SampleConfig{MaxNew: maxNew, Greedy: true, StopToken: stop, BatchRows: min(64, max(len(prompts), 1))}, nil)
	if err != nil {
		return nil, err
	}
	return out.Tokens, nil
}

// sampler returns the model's cached sampler (created on first use).
func (m *LM) sampler() (*Sampler, error) {
	if m.sampler_ == nil {
		s, err := NewSampler(m)
		if err != nil {
			return nil, err
		}
		m.sampler_ = s
	}
	return m.sampler_, nil
}
