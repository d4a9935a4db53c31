package srppo

import (
	"fmt"
	"math"
	"math/rand/v2"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// UpdateStats summarises the Update stage.
type UpdateStats struct {
	PolicyLoss   float64 `json:"policy_loss"` // mean over minibatches
	ValueLoss    float64 `json:"value_loss"`  // mean over minibatches (× value_coef)
	ClipFrac     float64 `json:"clip_frac"`   // fraction of tokens whose ratio left [1−ε, 1+ε]
	ApproxKL     float64 `json:"approx_kl"`   // k3 estimate of KL(π_old ‖ π_θ), mean over minibatches
	Entropy      float64 `json:"entropy"`     // mean per-token policy entropy (nats)
	PolicyGrad   float64 `json:"policy_grad_norm"`
	CriticGrad   float64 `json:"critic_grad_norm"`
	FirstRatio   float64 `json:"first_ratio"`     // mean ratio of the first minibatch: must be 1
	FirstKL      float64 `json:"first_approx_kl"` // approx-KL of the first minibatch: must be 0
	Minibatches  int     `json:"minibatches"`
	ExplainedVar Float   `json:"explained_var"` // of the rollout's values vs returns
}

// Update is the Update stage: cfg.Epochs passes over the rollout's rows in shuffled minibatches
// of cfg.Minibatch rows, one AdamW step of the policy (clipped surrogate) and one of the critic
// (clipped value loss) per minibatch. It changes ms.Policy and ms.Critic in place.
func Update(r *Rollout, ms Models, rng *rand.Rand) (*UpdateStats, error) {
	if r.Stage != StageAdvantages {
		return nil, fmt.Errorf("update: rollout is at stage %q, want %q", r.Stage, StageAdvantages)
	}
	cfg := r.Config
	e, err := ms.learnerExecs(cfg)
	if err != nil {
		return nil, err
	}
	st := &UpdateStats{ExplainedVar: Float(explainedVariance(r.Rows))}
	t := ms.Policy.Config.Context
	for epoch := range cfg.Epochs {
		perm := rng.Perm(len(r.Rows))
		for start := 0; start < len(perm); start += cfg.Minibatch {
			idx := perm[start:min(start+cfg.Minibatch, len(perm))]
			mb, err := buildMinibatch(r.Rows, idx, cfg.Minibatch, t)
			if err != nil {
				return nil, err
			}
			// The policy's and the critic's steps share no weights: side by side.
			var pOut, cOut []*tensors.Tensor
			err = concurrently(true,
				func() (err error) {
					if pOut, err = e.policyStep.Call(append(batchInputs(mb.batch), mb.mask, mb.oldLogp, mb.adv, tensors.FromScalar(float32(cfg.ActorLR)))...); err != nil {
						return fmt.Errorf("policy update: %w", err)
					}
					return nil
				},
				func() (err error) {
					if cOut, err = e.criticStep.Call(append(batchInputs(mb.batch), mb.criticMask, mb.oldValues, mb.returns, tensors.FromScalar(float32(cfg.CriticLR)))...); err != nil {
						return fmt.Errorf("critic update: %w", err)
					}
					return nil
				})
			if err != nil {
				return nil, err
			}
			v := func(ts []*tensors.Tensor, i int) float64 { return float64(tensors.ToScalar[float32](ts[i])) }
			if epoch == 0 && start == 0 {
				st.FirstRatio, st.FirstKL = v(pOut, outMeanRatio), v(pOut, outApproxKL)
			}
			st.PolicyLoss += v(pOut, outPolicyLoss)
			st.ClipFrac += v(pOut, outClipFrac)
			st.ApproxKL += v(pOut, outApproxKL)
			st.Entropy += v(pOut, outEntropy)
			st.PolicyGrad += v(pOut, outPolicyGradNorm)
			st.ValueLoss += v(cOut, outValueLoss)
			st.CriticGrad += v(cOut, outCriticGradNorm)
			st.Minibatches++
			for _, x := range []float64{v(pOut, outPolicyLoss), v(cOut, outValueLoss), v(pOut, outPolicyGradNorm), v(cOut, outCriticGradNorm)} {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					return nil, fmt.Errorf("%w in PPO update (iteration %d, epoch %d, minibatch at row %d): policy loss %v, value loss %v, gradient norms %v / %v",
						ErrNonFinite, r.Iteration, epoch, start, v(pOut, outPolicyLoss), v(cOut, outValueLoss), v(pOut, outPolicyGradNorm), v(cOut, outCriticGradNorm))
				}
			}
		}
	}
	n := float64(st.Minibatches)
	st.PolicyLoss /= n
	st.ClipFrac /= n
	st.ApproxKL /= n
	st.Entropy /= n
	st.PolicyGrad /= n
	st.ValueLoss /= n
	st.CriticGrad /= n
	return st, nil
}

type minibatch struct {
	batch                                              *Batch
	mask, criticMask, oldLogp, adv, oldValues, returns *tensors.Tensor
}

// buildMinibatch lays rows idx out one per row (prompt + response, teacher forced) and places
// each per-token quantity at the columns that predict the response tokens.
func buildMinibatch(rows []RolloutRow, idx []int, b, t int) (*minibatch, error) {
	seqs := make([]Sequence, len(idx))
	for i, k := range idx {
		seqs[i] = PairSequence(rows[k].PromptTokens, rows[k].Tokens)
	}
	t = RowWidth(seqs, t)
	bt, err := OneSequencePerRow(seqs, b, t)
	if err != nil {
		return nil, err
	}
	oldLogp, adv, oldValues, returns := make([]float32, b*t), make([]float32, b*t), make([]float32, b*t), make([]float32, b*t)
	for i, k := range idx {
		row := rows[k]
		base := i*t + seqs[i].LossFrom
		copy(oldLogp[base:], row.LogpOld)
		copy(adv[base:], row.Advantages)
		copy(oldValues[base:], row.Values)
		copy(returns[base:], row.Returns)
	}
	f := func(x []float32) *tensors.Tensor { return tensors.FromFlatDataAndDimensions(x, b, t) }
	// The policy's and the critic's steps run side by side and a tensor must not be handed to two
	// graph calls at once (its transfer to the backend is not safe for that): one mask each.
	return &minibatch{batch: bt, mask: f(bt.LossMask), criticMask: f(bt.LossMask), oldLogp: f(oldLogp), adv: f(adv),
		oldValues: f(oldValues), returns: f(returns)}, nil
}

// learnerKey identifies the compiled PPO graphs: the policy they train and the knobs baked into
// them (learning rates are graph inputs).
type learnerKey struct {
	policy                                               *LM
	clipEps, valueClip, valueCoef, entropyCoef, gradClip float64
}

func (ms Models) learnerExecs(cfg PPOConfig) (*ppoExecs, error) {
	key := learnerKey{ms.Policy, cfg.ClipEps, cfg.ValueClip, cfg.ValueCoef, cfg.EntropyCoef, cfg.GradClip}
	c := ms.Critic
	if c.learner != nil && c.learnerKey == key {
		return c.learner, nil
	}
	e, err := newPPOExecs(ms.Policy, c, cfg)
	if err != nil {
		return nil, err
	}
	c.learner, c.learnerKey = e, key
	return e, nil
}

// evalExec returns the critic's compiled value graph.
func (c *Critic) evalExec() (*model.Exec, error) {
	if c.eval != nil {
		return c.eval, nil
	}
	backend, err := Backend()
	if err != nil {
		return nil, err
	}
	c.eval, err = model.NewExec(backend, c.LM.store, func(scope *model.Scope, in []*Node) *Node {
		return c.values(in[0].Graph(), batchNodesOf(in))
	})
	return c.eval, err
}

// tensorFloats copies a float32 tensor's values.
func tensorFloats(t *tensors.Tensor) ([]float32, error) { return tensors.CopyFlatData[float32](t) }
