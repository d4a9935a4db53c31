// Package bench measures gosrppo's four hot workloads — a training step, KV-cache generation,
// four-model teacher-forced scoring and one whole PPO iteration — at the design §4 model size and
// at 2× and 4× its width, and defines the workloads, the parameter count and the FLOP formula that
// the PyTorch reference (torch_ref.py) mirrors exactly. The benchmarks live in bench_test.go and run
// only with -bench; run.sh runs them (plain and GOEXPERIMENT=simd builds) and the reference, and
// writes REPORT.md. Nothing in the library imports this package.
package bench

import (
	"fmt"
	"slices"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/srppo"
)

// Vocab is the vocabulary size of every benchmark model (the lean world's vocabulary is ~30).
const Vocab = 30

// Workload constants (design §3 defaults for PPO; the pretraining batch for the training step).
const (
	TrainRows = 32 // rows per training step (DefaultPretrainConfig().BatchRows)
	TrainCols = 64 // tokens per row: the full context, every target in the loss

	Prompts   = 64 // prompts per rollout
	Samples   = 2  // samples per prompt
	Rows      = Prompts * Samples
	MaxNew    = 24  // new tokens per row, forced (no stop token)
	BatchRows = 128 // sampler and scoring batch rows (PPOConfig.ScoreBatch): the whole rollout
	Minibatch = 32  // PPO minibatch rows
	PPOEpochs = 2   // PPO epochs over the rollout
)

// Size is one benchmark model size.
type Size struct {
	Name   string // sub-benchmark name
	Scale  string // how it relates to the design model
	Config srppo.Config
}

// Sizes are the design §4 model and its width scaled 2× and 4× (d_model 256/512, d_ff = 4·d_model,
// 4 heads, 2 layers, context 64, vocabulary 30, learned positions, tied embeddings).
func Sizes() []Size {
	out := []Size{}
	for i, d := range []int{128, 256, 512} {
		c := srppo.DefaultConfig(Vocab)
		c.DModel, c.DFF = d, 4*d
		out = append(out, Size{Name: fmt.Sprintf("d%d", d), Scale: fmt.Sprintf("%d× width", 1<<i), Config: c})
	}
	return out
}

// SizeByName returns the size called name.
func SizeByName(name string) (Size, bool) {
	for _, s := range Sizes() {
		if s.Name == name {
			return s, true
		}
	}
	return Size{}, false
}

// PromptLen is the length of prompt p in tokens: 7…11, like the lean world's chat prompts
// `<bos> <q> OP a1…aL <a>` with L in 2…6.
func PromptLen(p int) int { return 7 + p%5 }

// PromptToken is token i of prompt p: <bos> first, then a fixed pattern over the non-special ids.
func PromptToken(p, i int) int32 {
	if i == 0 {
		return datasets.BOSID
	}
	return int32(5 + (p*7+i*3)%(Vocab-5))
}

// RolloutPrompts returns the Rows prompts of a rollout: prompt p repeated Samples times.
func RolloutPrompts() [][]int32 {
	out := make([][]int32, 0, Rows)
	for p := range Prompts {
		toks := make([]int32, PromptLen(p))
		for i := range toks {
			toks[i] = PromptToken(p, i)
		}
		for range Samples {
			out = append(out, toks)
		}
	}
	return out
}

// ResponseToken is the forced response token t of row r used by the scoring workload (generation
// and the PPO iteration sample their own).
func ResponseToken(r, t int) int32 { return int32(5 + (r*11+t*5)%(Vocab-5)) }

// Shapes of the padded tensors the library builds for these workloads (checked by the tests).
const (
	PromptWidth = 12 // sampler prompt bucket: max prompt 11 rounded up to a multiple of 4
	PairWidth   = 36 // scoring/update row width: prompt + response − 1 ≤ 34, rounded up to 4
	CacheCols   = 64 // KV-cache columns at most = context
	CacheBucket = 8  // decoding attends over the columns written so far rounded up to this (srppo's cacheBucket)
)

// Params is the parameter count of an LM:
//
//	V·d + C·d (embeddings, tied output) + L·(4d² + 2d·f + 9d + f) + 2d (final LN)
//
// (per layer: c_attn d·3d+3d, c_proj d²+d, c_fc d·f+f, c_proj f·d+d, two LNs 4d).
func Params(c srppo.Config) int {
	d, f := c.DModel, c.DFF
	n := c.VocabSize*d + c.Context*d + c.Layers*(4*d*d+2*d*f+9*d+f) + 2*d
	return n
}

// FLOP formula (2 FLOPs per multiply-add; element-wise ops, softmax, LayerNorm, GELU and the
// optimiser are not counted):
//
//	trunk(c)   = 2·L·(4d² + 2d·f)         per token: QKV, attention output, MLP matmuls
//	attn(c, K) = 4·L·K·d                   per query token attending over K key columns (QKᵀ and P·V)
//	head(c)    = 2·V·d                     per token whose logits are computed
//	backward   = 2 × forward               (a training step is 3× the forward)
//
// K is the number of key columns actually multiplied: the padded row width T for teacher forcing
// (the causal mask is applied by masking, not by skipping) and the cache width (the columns written
// so far rounded up to CacheBucket) for cached decoding. The counts below are for the padded shapes that both implementations execute.
func trunk(c srppo.Config) float64 {
	d, f := float64(c.DModel), float64(c.DFF)
	return 2 * float64(c.Layers) * (4*d*d + 2*d*f)
}

func attn(c srppo.Config, k int) float64 {
	return 4 * float64(c.Layers) * float64(k) * float64(c.DModel)
}

func head(c srppo.Config) float64 { return 2 * float64(c.VocabSize) * float64(c.DModel) }

// forward is the forward FLOPs of rows×cols teacher-forced tokens, with logits when lm is set.
func forward(c srppo.Config, rows, cols int, lm bool) float64 {
	per := trunk(c) + attn(c, cols)
	if lm {
		per += head(c)
	}
	return float64(rows*cols) * per
}

// TrainStepFLOPs is one training step: 3 × forward of TrainRows × TrainCols tokens with logits.
func TrainStepFLOPs(c srppo.Config) float64 { return 3 * forward(c, TrainRows, TrainCols, true) }

// GenerateFLOPs is one generation of Rows rows × MaxNew tokens in batches of BatchRows: per batch a
// prefill of PromptWidth columns (logits of the last column only) and MaxNew−1 one-token steps,
// every query attending over the cache columns written so far rounded up to CacheBucket.
func GenerateFLOPs(c srppo.Config) float64 {
	batches := float64(Rows / BatchRows)
	b := float64(BatchRows)
	prefill := b*float64(PromptWidth)*(trunk(c)+attn(c, cacheWidth(PromptWidth))) + b*head(c)
	decode := 0.0
	for t := range MaxNew - 1 { // step t writes column PromptWidth+t
		decode += b * (trunk(c) + attn(c, cacheWidth(PromptWidth+t+1)) + head(c))
	}
	return batches * (prefill + decode)
}

// cacheWidth is the width of the decoding cache holding cols columns.
func cacheWidth(cols int) int { return min((cols+CacheBucket-1)/CacheBucket*CacheBucket, CacheCols) }

// ScoreFLOPs is the Score stage: three LMs (policy, π_sft, π_pt) with logits and the critic trunk
// (value head ignored), teacher-forced over Rows rows of PairWidth columns.
func ScoreFLOPs(c srppo.Config) float64 {
	return 3*forward(c, Rows, PairWidth, true) + forward(c, Rows, PairWidth, false)
}

// UpdateFLOPs is the Update stage: PPOEpochs × (Rows/Minibatch) minibatches, each one policy
// training step (with logits) and one critic training step, on Minibatch rows × PairWidth columns.
func UpdateFLOPs(c srppo.Config) float64 {
	mbs := float64(PPOEpochs * Rows / Minibatch)
	return mbs * 3 * (forward(c, Minibatch, PairWidth, true) + forward(c, Minibatch, PairWidth, false))
}

// PPOIterationFLOPs is a whole iteration: generation + scoring + update.
func PPOIterationFLOPs(c srppo.Config) float64 {
	return GenerateFLOPs(c) + ScoreFLOPs(c) + UpdateFLOPs(c)
}

// Workload names, as used in benchmark names and in REPORT.md.
const (
	WTrain    = "TrainStep"
	WGenerate = "Generate"
	WScore    = "Score"
	WPPO      = "PPOIteration"
)

// Workloads lists the workloads in report order.
var Workloads = []string{WTrain, WGenerate, WScore, WPPO}

// FLOPs returns the executed FLOPs of one operation of workload w.
func FLOPs(w string, c srppo.Config) float64 {
	switch w {
	case WTrain:
		return TrainStepFLOPs(c)
	case WGenerate:
		return GenerateFLOPs(c)
	case WScore:
		return ScoreFLOPs(c)
	case WPPO:
		return PPOIterationFLOPs(c)
	}
	panic("bench: unknown workload " + w)
}

// Tokens returns the useful tokens of one operation of workload w, the numerator of tokens/s:
// target tokens for a training step, generated tokens for generation and the PPO iteration, and
// scored response tokens (each scored by all four models) for scoring.
func Tokens(w string) int {
	switch w {
	case WTrain:
		return TrainRows * TrainCols
	case WGenerate, WScore, WPPO:
		return Rows * MaxNew
	}
	panic("bench: unknown workload " + w)
}

// ParamShapes lists every parameter of an LM by Hugging Face GPT-2 name with its shape (the
// layout srppo uses; the export test writes weights with it and torch_ref.py reads them).
func ParamShapes(c srppo.Config) map[string][]int {
	d, f := c.DModel, c.DFF
	out := map[string][]int{"wte.weight": {c.VocabSize, d}, "wpe.weight": {c.Context, d}, "ln_f.weight": {d}, "ln_f.bias": {d}}
	for l := range c.Layers {
		p := fmt.Sprintf("h.%d.", l)
		for name, shape := range map[string][]int{
			"ln_1.weight": {d}, "ln_1.bias": {d}, "attn.c_attn.weight": {d, 3 * d}, "attn.c_attn.bias": {3 * d},
			"attn.c_proj.weight": {d, d}, "attn.c_proj.bias": {d}, "ln_2.weight": {d}, "ln_2.bias": {d},
			"mlp.c_fc.weight": {d, f}, "mlp.c_fc.bias": {f}, "mlp.c_proj.weight": {f, d}, "mlp.c_proj.bias": {d},
		} {
			out[p+name] = shape
		}
	}
	return out
}

// Median is the median of xs (the mean of the middle two for an even count; 0 for none).
func Median(xs []float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	n := len(xs)
	if n == 0 {
		return 0
	}
	if n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[n/2]
}
