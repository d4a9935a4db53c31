package srppo

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// PPOConfig holds every PPO knob; DefaultPPOConfig gives design §3's values.
type PPOConfig struct {
	Mode      string  `json:"mode"`       // reward placement (PlacementModes)
	DeltaClip float64 `json:"delta_clip"` // clip Δ_t to [−c, c]; 0: off
	// DeltaBaseline b is subtracted from every Δ_t before placement (BaselineDelta); 0: off. The
	// sweep sets it to π_sft's own mean Δ per token (RewardSamples.MeanDeltaPerToken).
	DeltaBaseline float64 `json:"delta_baseline,omitempty"`
	WhitenRewards bool    `json:"whiten_rewards"` // whiten the placed rewards over the batch before GAE (control run)
	Gamma         float64 `json:"gamma"`          // discount γ
	Lambda        float64 `json:"lambda"`         // GAE λ
	ClipEps       float64 `json:"clip_eps"`       // surrogate clip ε: ρ ∈ [1−ε, 1+ε]
	ValueClip     float64 `json:"value_clip"`     // value clip: V ∈ [V_old − c, V_old + c]
	ValueCoef     float64 `json:"value_coef"`     // critic loss weight
	EntropyCoef   float64 `json:"entropy_coef"`   // entropy bonus weight (0: entropy is only logged)
	KLBeta        float64 `json:"kl_beta"`        // per-token KL penalty β
	KLEstimator   string  `json:"kl_estimator"`   // KLk1 or KLk3
	WhitenAdv     bool    `json:"whiten_adv"`     // whiten advantages over the batch's tokens
	Epochs        int     `json:"epochs"`         // PPO epochs K over each rollout
	Minibatch     int     `json:"minibatch"`      // rows per minibatch
	ActorLR       float64 `json:"actor_lr"`
	CriticLR      float64 `json:"critic_lr"`
	GradClip      float64 `json:"grad_clip"`        // global gradient-norm clip, per model
	Prompts       int     `json:"prompts"`          // prompts per rollout
	Samples       int     `json:"samples"`          // samples per prompt
	MaxNew        int     `json:"max_new"`          // response budget in tokens
	Temperature   float64 `json:"temperature"`      // rollout sampling temperature
	ScoreBatch    int     `json:"score_batch_rows"` // rows per sampling and scoring batch (128: one batch for 64 prompts × 2)
}

// batchRows is the sampling and scoring batch for a rollout of n rows: ScoreBatch, or n when the
// rollout is smaller (batches are padded to their row count, so a small rollout in a large
// batch would compute mostly padding).
func (c PPOConfig) batchRows(n int) int { return max(1, min(c.ScoreBatch, n)) }

// DefaultPPOConfig returns design §3's defaults for placement mode.
func DefaultPPOConfig(mode string) PPOConfig {
	return PPOConfig{Mode: mode, Gamma: 1, Lambda: 0.95, ClipEps: 0.2, ValueClip: 0.2, ValueCoef: 0.1,
		KLBeta: 0.05, KLEstimator: KLk1, WhitenAdv: true, Epochs: 2, Minibatch: 32, ActorLR: 2e-5,
		CriticLR: 1e-4, GradClip: 1, Prompts: 64, Samples: 2, MaxNew: 24, Temperature: 1, ScoreBatch: 128}
}

// Validate reports the first invalid knob.
func (c PPOConfig) Validate() error {
	if _, err := PlaceReward(c.Mode, nil, nil, false); err != nil {
		return err
	}
	if _, err := TokenKL(nil, nil, c.KLEstimator); err != nil {
		return err
	}
	switch {
	case c.Epochs <= 0 || c.Minibatch <= 0 || c.Prompts <= 0 || c.Samples <= 0 || c.MaxNew <= 0 || c.ScoreBatch <= 0:
		return fmt.Errorf("ppo config: epochs, minibatch, prompts, samples, max_new and score_batch_rows must be > 0")
	case c.Temperature <= 0 || c.ClipEps <= 0 || c.Gamma < 0 || c.Gamma > 1 || c.Lambda < 0 || c.Lambda > 1:
		return fmt.Errorf("ppo config: temperature and clip_eps must be > 0, γ and λ in [0, 1]")
	case math.IsNaN(c.DeltaBaseline) || math.IsInf(c.DeltaBaseline, 0):
		return fmt.Errorf("ppo config: delta_baseline must be finite, got %v", c.DeltaBaseline)
	}
	return nil
}

// ClippedSurrogate is PPO's policy loss over the masked tokens:
//
//	ρ_t = exp(log π_θ(y_t) − log π_old(y_t))
//	L^CLIP = −(1/Σm) Σ_t m_t · min(ρ_t·A_t, clip(ρ_t, 1−ε, 1+ε)·A_t)
//
// It also returns the clip fraction, the share of masked tokens with |ρ_t − 1| > ε (the ratio
// left the trust region, whether or not the min picked the clipped term), and the k3 approximate KL
// (1/Σm) Σ m_t ((ρ_t − 1) − log ρ_t), both without gradient.
func ClippedSurrogate(logp, oldLogp, adv, mask *Node, eps float64) (loss, clipFrac, approxKL, meanRatio *Node) {
	logRatio := Sub(logp, oldLogp)
	ratio := Exp(logRatio)
	unclipped := Mul(ratio, adv)
	clipped := Mul(ClipScalar(ratio, 1-eps, 1+eps), adv)
	loss = Neg(maskedMean(Min(unclipped, clipped), mask))
	isClipped := ConvertDType(GreaterThan(Abs(SubScalar(ratio, 1.0)), ConstAs(ratio, eps)), dtypes.Float32)
	clipFrac = StopGradient(maskedMean(isClipped, mask))
	approxKL = StopGradient(maskedMean(Sub(SubScalar(ratio, 1.0), logRatio), mask))
	meanRatio = StopGradient(maskedMean(ratio, mask))
	return
}

// ClippedValueLoss is the critic loss
//
//	L^V = ½·(1/Σm) Σ_t m_t · max((V_t − R_t)², (V_old,t + clip(V_t − V_old,t, −c, c) − R_t)²).
func ClippedValueLoss(values, oldValues, returns, mask *Node, clip float64) *Node {
	unclipped := Square(Sub(values, returns))
	vClipped := Add(oldValues, ClipScalar(Sub(values, oldValues), -clip, clip))
	return MulScalar(maskedMean(Max(unclipped, Square(Sub(vClipped, returns))), mask), 0.5)
}

// maskedMean is Σ m·x / max(Σ m, 1).
func maskedMean(x, mask *Node) *Node {
	n := ReduceAllSum(mask)
	return Div(ReduceAllSum(Mul(x, mask)), Max(n, OnesLike(n)))
}

// maskedEntropy is the mean over masked positions of H_t = −Σ_v p_v log p_v.
func maskedEntropy(logits, mask *Node) *Node {
	lp := LogSoftmax(logits, -1)
	return maskedMean(Neg(ReduceSum(Mul(Exp(lp), lp), -1)), mask)
}

// Critic is the value model V_φ: a copy of the SFT trunk plus a zero-initialised linear head,
// V(s_t) = h_t·w + b on the final-LN hidden state of the last token of the context.
type Critic struct {
	LM *LM

	eval       *model.Exec // compiled value graph
	learner    *ppoExecs   // compiled PPO update graphs
	learnerKey learnerKey
}

// valueHead parameter names (Hugging Face style, next to the trunk's).
const (
	valueHeadWeight = "value_head.weight"
	valueHeadBias   = "value_head.bias"
)

// NewCritic copies trunk (normally π_sft) and adds a zero value head.
func NewCritic(trunk *LM) (*Critic, error) {
	lm, err := trunk.Clone()
	if err != nil {
		return nil, err
	}
	lm.Role = RoleCritic
	d := lm.Config.DModel
	// Created in name order (bias, weight), the order restoreStoreState recreates them in, so a
	// resumed critic sums its gradient norm in the same order as a fresh one.
	if _, err := lm.store.CreateVariable(varPath(lm.scope, valueHeadBias), tensors.FromScalar(float32(0))); err != nil {
		return nil, err
	}
	if _, err := lm.store.CreateVariable(varPath(lm.scope, valueHeadWeight), tensors.FromFlatDataAndDimensions(make([]float32, d), d)); err != nil {
		return nil, err
	}
	return &Critic{LM: lm}, nil
}

// values returns V [B,T] for a teacher-forced batch: the value of each column's context.
func (c *Critic) values(g *Graph, in batchNodes) *Node {
	h, _ := c.LM.hidden(g, in.tokens, attentionInputs{positions: in.positions, mask: sequenceMask(in.segments)})
	w := c.LM.graphParam(g, valueHeadWeight)
	return Add(Einsum("btd,d->bt", h, w), c.LM.graphParam(g, valueHeadBias))
}

// Inputs of the policy and critic update graphs, in call order: the batch (batchInputs), the
// loss mask, then per graph the old log-probs and advantages (policy) or the old values and
// returns (critic), and the learning rate.
const (
	inTokens = iota
	inTargets
	inPositions
	inSegments
	inResponse // the batch's response columns (the response distribution's restriction)
	inMask
	inOldLogp, inOldValues  = iota, iota // policy, critic
	inAdvantages, inReturns = iota, iota // policy, critic
	inLR                    = iota
)

// Outputs of the policy update graph.
const (
	outPolicyLoss = iota
	outClipFrac
	outApproxKL
	outMeanRatio
	outEntropy
	outPolicyGradNorm
	numPolicyOutputs
)

// Outputs of the critic update graph.
const (
	outValueLoss = iota
	outCriticGradNorm
	numCriticOutputs
)

// ppoExecs are the compiled graphs of one PPO learner (policy + critic).
type ppoExecs struct {
	policyStep, criticStep *model.Exec
}

func newPPOExecs(policy *LM, critic *Critic, cfg PPOConfig) (*ppoExecs, error) {
	backend, err := Backend()
	if err != nil {
		return nil, err
	}
	e := &ppoExecs{}
	actorOpt := OptimConfig{LR: cfg.ActorLR, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, GradClip: cfg.GradClip}
	criticOpt := OptimConfig{LR: cfg.CriticLR, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, GradClip: cfg.GradClip}
	e.policyStep, err = model.NewExec(backend, policy.store, func(scope *model.Scope, in []*Node) []*Node {
		logp, logits := policy.teacherForced(in[inTokens].Graph(), batchNodesOf(in))
		loss, clipFrac, approxKL, ratio := ClippedSurrogate(logp, in[inOldLogp], in[inAdvantages], in[inMask], cfg.ClipEps)
		entropy := maskedEntropy(logits, in[inMask])
		total := loss
		if cfg.EntropyCoef != 0 {
			total = Sub(loss, MulScalar(entropy, cfg.EntropyCoef))
		}
		norm := applyAdamW(scope, total, in[inLR], actorOpt)
		out := make([]*Node, numPolicyOutputs)
		out[outPolicyLoss], out[outClipFrac], out[outApproxKL], out[outMeanRatio], out[outEntropy], out[outPolicyGradNorm] =
			loss, clipFrac, approxKL, ratio, StopGradient(entropy), norm
		return out
	})
	if err != nil {
		return nil, err
	}
	e.criticStep, err = model.NewExec(backend, critic.LM.store, func(scope *model.Scope, in []*Node) []*Node {
		v := critic.values(in[inTokens].Graph(), batchNodesOf(in))
		loss := MulScalar(ClippedValueLoss(v, in[inOldValues], in[inReturns], in[inMask], cfg.ValueClip), cfg.ValueCoef)
		norm := applyAdamW(scope, loss, in[inLR], criticOpt)
		out := make([]*Node, numCriticOutputs)
		out[outValueLoss], out[outCriticGradNorm] = loss, norm
		return out
	})
	return e, err
}
