package srppo

import (
	"math"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// OptimConfig configures AdamW with global-norm gradient clipping.
type OptimConfig struct {
	LR          float64 `json:"lr"`           // peak learning rate
	MinLRFrac   float64 `json:"min_lr_frac"`  // cosine floor as a fraction of LR
	WarmupSteps int     `json:"warmup_steps"` // linear warm-up from 0
	WeightDecay float64 `json:"weight_decay"` // decoupled, on matrices only (not biases, norms)
	Beta1       float64 `json:"beta1"`
	Beta2       float64 `json:"beta2"`
	Eps         float64 `json:"eps"`
	GradClip    float64 `json:"grad_clip"` // global L2 norm; 0 disables
}

// LearningRate is the warm-up + cosine schedule:
//
//	lr(s) = LR·(s+1)/W                                        for s < W
//	lr(s) = LR·(f + (1−f)·½·(1 + cos(π·(s−W)/(S−W))))          for W ≤ s < S, f = MinLRFrac
//	lr(s) = LR·f                                              for s ≥ S
//
// for step s (from 0), W warm-up steps and S total steps.
func (o OptimConfig) LearningRate(step, totalSteps int) float64 {
	if step < o.WarmupSteps {
		return o.LR * float64(step+1) / float64(o.WarmupSteps)
	}
	if step >= totalSteps || totalSteps <= o.WarmupSteps {
		return o.LR * o.MinLRFrac
	}
	progress := float64(step-o.WarmupSteps) / float64(totalSteps-o.WarmupSteps)
	return o.LR * (o.MinLRFrac + (1-o.MinLRFrac)*0.5*(1+math.Cos(math.Pi*progress)))
}

// globalNorm is ‖g‖₂ over all gradients: √(Σ_i Σ g_i²).
func globalNorm(grads []*Node) *Node {
	var sum *Node
	for _, g := range grads {
		sq := ReduceAllSum(Square(g))
		if sum == nil {
			sum = sq
		} else {
			sum = Add(sum, sq)
		}
	}
	return Sqrt(sum)
}

// clipByGlobalNorm scales every gradient by min(1, c/‖g‖₂) so that the global norm is at most c.
// GoMLX's optimizers only clip element-wise, hence this.
func clipByGlobalNorm(grads []*Node, norm *Node, c float64) []*Node {
	scale := Min(OnesLike(norm), Div(ConstAs(norm, c), Add(norm, ConstAs(norm, 1e-6))))
	out := make([]*Node, len(grads))
	for i, g := range grads {
		out[i] = Mul(g, scale)
	}
	return out
}

// applyAdamW builds one optimiser update of every trainable variable of the store used by the
// graph: gradients of loss, global-norm clip, GoMLX's Adam at learning rate lr (a graph input, so a
// value stored in a checkpoint can never override the configured schedule), then decoupled weight
// decay θ ← θ − lr·wd·θ_old on matrices only (GoMLX would decay biases and norm gains too).
// It returns the pre-clip gradient norm.
func applyAdamW(scope *model.Scope, loss, lr *Node, o OptimConfig) *Node {
	g := loss.Graph()
	type tracked struct {
		v   *model.Variable
		old *Node
	}
	var decayed []tracked
	for v := range scope.IterVariables() {
		if v.Trainable && v.InUseByGraph(g) && v.Shape().Rank() >= 2 {
			decayed = append(decayed, tracked{v, v.NodeValue(g)})
		}
	}
	grads := scope.BuildTrainableVariablesGradientsGraph(loss)
	norm := globalNorm(grads)
	if o.GradClip > 0 {
		grads = clipByGlobalNorm(grads, norm, o.GradClip)
	}
	optimizer.LearningRateVar(scope, dtypes.Float32, o.LR).SetNodeValue(lr)
	adam := optimizer.Adam().Betas(o.Beta1, o.Beta2).Epsilon(o.Eps).LearningRate(o.LR).Done()
	adam.(interface {
		UpdateGraphWithGradients(*model.Scope, []*Node, dtypes.DType)
	}).UpdateGraphWithGradients(scope, grads, dtypes.Float32)
	if o.WeightDecay > 0 {
		for _, t := range decayed {
			t.v.SetNodeValue(Sub(t.v.NodeValue(g), Mul(MulScalar(lr, o.WeightDecay), t.old)))
		}
	}
	return norm
}
