package srppo

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// TrainConfig configures next-token training: pretraining on a corpus (every target counts) and
// SFT on demonstrations (response targets only) share it.
type TrainConfig struct {
	Seed      uint64 `json:"seed"`       // shuffling; same seed + same backend → same weights
	BatchRows int    `json:"batch_rows"` // rows of Config.Context tokens per step
	Epochs    int    `json:"epochs"`     // passes over the training sequences
	// MinSteps raises the number of epochs until at least this many optimiser steps are taken, so
	// that a handful of demonstrations still gets a real fine-tune (0: Epochs as given).
	MinSteps int         `json:"min_steps"`
	Optim    OptimConfig `json:"optim"`
	// CheckpointDir, when set, receives an atomic checkpoint every CheckpointEvery steps and at
	// each epoch end; training resumes from it.
	CheckpointDir   string `json:"-"`
	CheckpointEvery int    `json:"checkpoint_every"`
	// StopAfterSteps ends training early after that many steps of this call (0: run to the end);
	// used to test interruption and resumption.
	StopAfterSteps int `json:"-"`
	// HeldOutScore, when set, scores the model at every point of the curve (higher is better —
	// e.g. exact match of greedy answers to held-out prompts), and the best-scoring epoch's
	// weights are kept beside the best-loss ones (TrainResult.BestScoreEpoch; ties keep the
	// earlier epoch). ScoreName names it; it is part of the settings a resumed run must share.
	HeldOutScore func(*LM) (float64, error) `json:"-"`
	ScoreName    string                     `json:"score_name,omitempty"`
}

// DefaultPretrainConfig are the pretraining defaults for the design §4 model.
func DefaultPretrainConfig() TrainConfig {
	return TrainConfig{Seed: 1, BatchRows: 32, Epochs: 1, CheckpointEvery: 200, Optim: OptimConfig{
		LR: 3e-3, MinLRFrac: 0.1, WarmupSteps: 100, WeightDecay: 0.01, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, GradClip: 1}}
}

// DefaultSFTConfig are the SFT defaults: a smaller learning rate, at least 20 epochs and 300
// steps (few demos get many epochs); the best epoch on held-out demos is kept.
func DefaultSFTConfig() TrainConfig {
	return TrainConfig{Seed: 1, BatchRows: 8, Epochs: 20, MinSteps: 300, CheckpointEvery: 0, Optim: OptimConfig{
		LR: 1e-3, MinLRFrac: 0.1, WarmupSteps: 10, WeightDecay: 0.0, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, GradClip: 1}}
}

// DefaultFineTuneConfig are the SFT defaults for a pretrained GPT-2 (LoadPretrained): a
// fine-tuning learning rate of 1e-4 with β2 0.999, 4 rows per step, 5 epochs and at least 30 steps
// (packed rows hold many demonstrations, so an epoch is few steps); the best epoch on held-out
// demos is kept.
func DefaultFineTuneConfig() TrainConfig {
	return TrainConfig{Seed: 1, BatchRows: 4, Epochs: 5, MinSteps: 30, CheckpointEvery: 0, Optim: OptimConfig{
		LR: 1e-4, MinLRFrac: 0.1, WarmupSteps: 5, WeightDecay: 0.0, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, GradClip: 1}}
}

// Progress is reported after every step.
type Progress struct {
	Step, TotalSteps int
	Epoch            int
	Loss             float64 // this step's mean loss per target token
	GradNorm         float64 // before clipping
	LR               float64
	Tokens           int64   // loss tokens seen so far in this call
	TokensPerSec     float64 // loss tokens per second in this call
	ETA              time.Duration
}

// EpochStat is one point of the overfitting curve, taken after every epoch (every epochs/20
// epochs for long runs).
type EpochStat struct {
	Epoch     int     `json:"epoch"`
	TrainLoss float64 `json:"train_loss"`      // mean over the steps since the previous point
	HeldOut   Float   `json:"held_out"`        // mean loss per target token on held-out sequences (NaN if none)
	Score     *Float  `json:"score,omitempty"` // TrainConfig.HeldOutScore at this epoch, when set
}

// TrainResult is what training returns: the curve, the best epoch, and the number of steps.
type TrainResult struct {
	Curve      []EpochStat `json:"curve"`
	BestEpoch  int         `json:"best_epoch"` // by held-out loss; the last epoch without held-out data
	Steps      int         `json:"steps"`
	LossTokens int64       `json:"loss_tokens"` // over the whole run, across resumptions
	// BestParams are the weights at the end of BestEpoch (nil when that is the final epoch, whose
	// weights are the model's own).
	BestParams map[string][]float32 `json:"-"`
	// BestScoreEpoch is the epoch with the highest TrainConfig.HeldOutScore (−1 without one);
	// BestScoreParams its weights (nil when that is the final epoch).
	BestScoreEpoch  int                  `json:"best_score_epoch"`
	BestScoreParams map[string][]float32 `json:"-"`
}

// ErrNonFinite is wrapped by the error returned when the loss or gradient norm becomes NaN/Inf.
var ErrNonFinite = errors.New("non-finite loss")

// trainer holds the compiled training step and held-out loss graphs of a model.
type trainer struct {
	m     *LM
	cfg   TrainConfig
	step  *model.Exec
	evalL *model.Exec
}

func newTrainer(m *LM, cfg TrainConfig) (*trainer, error) {
	backend, err := Backend()
	if err != nil {
		return nil, err
	}
	tr := &trainer{m: m, cfg: cfg}
	// Inputs: the batch (batchArity nodes), loss mask, learning rate. Pretraining and SFT fit the
	// model's full softmax (trainingNodes): the response vocabulary restriction applies where a
	// response distribution is read — sampling, scoring and the PPO update.
	tr.step, err = model.NewExec(backend, m.store, func(scope *model.Scope, in []*Node) []*Node {
		g := in[0].Graph()
		logp, _ := m.teacherForced(g, trainingNodes(in))
		loss := maskedMeanNLL(logp, in[batchArity])
		norm := applyAdamW(scope, loss, in[batchArity+1], cfg.Optim)
		return []*Node{loss, norm}
	})
	if err != nil {
		return nil, err
	}
	tr.evalL, err = model.NewExec(backend, m.store, func(scope *model.Scope, in []*Node) []*Node {
		logp, _ := m.teacherForced(in[0].Graph(), trainingNodes(in))
		mask := in[batchArity]
		return []*Node{ReduceAllSum(Mul(Neg(logp), mask)), ReduceAllSum(mask)}
	})
	return tr, err
}

// trainingNodes are the batch inputs of a training graph without the response restriction.
func trainingNodes(in []*Node) batchNodes {
	b := batchNodesOf(in)
	b.response = nil
	return b
}

// maskedMeanNLL is the SFT/pretraining loss  L = −Σ_t m_t·log π(y_t|·) / Σ_t m_t.
func maskedMeanNLL(logp, mask *Node) *Node {
	return Div(ReduceAllSum(Mul(Neg(logp), mask)), Max(ReduceAllSum(mask), OnesLike(ReduceAllSum(mask))))
}

func (tr *trainer) runStep(bt *Batch, lr float64) (loss, norm float64, err error) {
	in := append(batchInputs(bt), tensors.FromFlatDataAndDimensions(bt.LossMask, bt.B, bt.T), tensors.FromScalar(float32(lr)))
	out, err := tr.step.Call(in...)
	if err != nil {
		return 0, 0, err
	}
	return float64(tensors.ToScalar[float32](out[0])), float64(tensors.ToScalar[float32](out[1])), nil
}

// heldOutLoss is the mean loss per target token over seqs.
func (tr *trainer) heldOutLoss(seqs []Sequence) (float64, error) {
	if len(seqs) == 0 {
		return math.NaN(), nil
	}
	rows, err := PackRows(seqs, tr.m.Config.Context)
	if err != nil {
		return 0, err
	}
	var sum, count float64
	for start := 0; start < len(rows); start += tr.cfg.BatchRows {
		bt, err := BatchRows(rows[start:min(start+tr.cfg.BatchRows, len(rows))], tr.cfg.BatchRows, tr.m.Config.Context)
		if err != nil {
			return 0, err
		}
		in := append(batchInputs(bt), tensors.FromFlatDataAndDimensions(bt.LossMask, bt.B, bt.T))
		out, err := tr.evalL.Call(in...)
		if err != nil {
			return 0, err
		}
		sum += float64(tensors.ToScalar[float32](out[0]))
		count += float64(tensors.ToScalar[float32](out[1]))
	}
	return sum / count, nil
}

// epochRows shuffles the training sequences with a generator derived from (seed, epoch) — so a
// resumed run replays exactly the same order — and packs them into rows.
func epochRows(seqs []Sequence, seed uint64, epoch, t int) ([][]Sequence, error) {
	rng := rand.New(rand.NewPCG(seed, uint64(epoch)))
	perm := rng.Perm(len(seqs))
	shuffled := make([]Sequence, len(seqs))
	for i, p := range perm {
		shuffled[i] = seqs[p]
	}
	return PackRows(shuffled, t)
}

// SplitDocuments splits every document sequence (LossFrom 0: every target counts) longer than the
// context into pieces of at most context+1 tokens, consecutive pieces sharing one token so that
// every target is trained exactly once — how pretraining on real text handles long documents.
// A (prompt, response) sequence is left whole: cut, its response would lose its prompt.
func SplitDocuments(seqs []Sequence, context int) []Sequence {
	var out []Sequence
	for i, s := range seqs {
		if s.LossFrom != 0 || len(s.Tokens)-1 <= context {
			if out != nil {
				out = append(out, s)
			}
			continue
		}
		if out == nil {
			out = append(make([]Sequence, 0, len(seqs)+1), seqs[:i]...)
		}
		for start := 0; start < len(s.Tokens)-1; start += context {
			out = append(out, Sequence{Tokens: s.Tokens[start:min(start+context+1, len(s.Tokens))]})
		}
	}
	if out == nil {
		return seqs
	}
	return out
}

// Train runs next-token training of m on train (with the loss on targets from each sequence's
// LossFrom), evaluating the held-out loss after every epoch. Documents longer than the context
// are split first (SplitDocuments). With cfg.CheckpointDir set, it resumes
// from the checkpoint found there and writes one atomically every cfg.CheckpointEvery steps and
// at each epoch end, so an interrupted run ends with the same weights as an uninterrupted one.
// A NaN/Inf loss stops training with ErrNonFinite, leaving the last good checkpoint in place.
func Train(m *LM, train, heldOut []Sequence, cfg TrainConfig, progress func(Progress)) (*TrainResult, error) {
	if len(train) == 0 {
		return nil, fmt.Errorf("no training sequences")
	}
	if m.bf16 {
		return nil, fmt.Errorf("the model is stored in bfloat16 for inference (StoreBFloat16); train a float32 copy (Clone)")
	}
	if cfg.BatchRows <= 0 || cfg.Epochs <= 0 {
		return nil, fmt.Errorf("train config: batch_rows and epochs must be > 0")
	}
	if !(cfg.Optim.LR > 0) || math.IsInf(cfg.Optim.LR, 0) {
		return nil, fmt.Errorf("train config: learning rate %v must be a finite number > 0", cfg.Optim.LR)
	}
	if (cfg.HeldOutScore == nil) != (cfg.ScoreName == "") {
		return nil, fmt.Errorf("train config: held_out_score and score_name go together (score_name %q)", cfg.ScoreName)
	}
	// What a resumed run must share with the checkpoint: every setting that changes the weights
	// (not how often checkpoints are written) and the data.
	settings := cfg
	settings.CheckpointEvery = 0
	train, heldOut = SplitDocuments(train, m.Config.Context), SplitDocuments(heldOut, m.Config.Context)
	digest := sequencesDigest(train) + "/" + sequencesDigest(heldOut)
	if err := checkSequences(train, m.Config.Context); err != nil {
		return nil, fmt.Errorf("training data: %w", err)
	}
	if err := checkSequences(heldOut, m.Config.Context); err != nil {
		return nil, fmt.Errorf("held-out data: %w", err)
	}
	tr, err := newTrainer(m, cfg)
	if err != nil {
		return nil, err
	}
	// Each epoch packs its own shuffle, so the number of rows (and steps) varies a little.
	total := 0
	for e := 0; e < cfg.Epochs || total < cfg.MinSteps; e++ {
		rows, err := epochRows(train, cfg.Seed, e, m.Config.Context)
		if err != nil {
			return nil, err
		}
		total += (len(rows) + cfg.BatchRows - 1) / cfg.BatchRows
		cfg.Epochs = max(cfg.Epochs, e+1)
	}

	st := trainState{BestEpoch: -1, BestHeldOut: Float(math.Inf(1)), BestScoreEpoch: -1}
	if cfg.CheckpointDir != "" {
		if loaded, err := resumeTraining(m, cfg.CheckpointDir); err != nil {
			return nil, err
		} else if loaded != nil {
			if loaded.Config != nil {
				if diff := settingsDiff(*loaded.Config, settings); diff != "" {
					return nil, fmt.Errorf("%s was written with other training settings (%s); rerun with the checkpoint's settings to resume it, or write to a new output directory", cfg.CheckpointDir, diff)
				}
			}
			if loaded.Data != "" && loaded.Data != digest {
				return nil, fmt.Errorf("%s was written while training on other data (%d training sequences now; fingerprint %s, checkpoint %s); resume with the same data files, or write to a new output directory", cfg.CheckpointDir, len(train), digest, loaded.Data)
			}
			st = *loaded
		}
	}
	st.Config, st.Data = &settings, digest
	res := &TrainResult{}
	lastFinite := math.NaN()
	// About 20 held-out evaluations per run: a few demonstrations trained for hundreds of epochs
	// would otherwise spend most of the time evaluating.
	evalEvery := max(1, cfg.Epochs/20)
	begin := time.Now()
	var tokens int64 // this call's, for the throughput; st.LossTokens counts the whole run
	// pending is a checkpoint not written yet: it is written once the next step's loss shows its
	// weights are sound, so that the checkpoint kept after a NaN or a divergence resumes into a
	// finite step (an update can ruin the weights before any loss shows it).
	var pending map[string][]byte
	stepsThisCall := 0
	for epoch := st.Epoch; epoch < cfg.Epochs; epoch++ {
		rows, err := epochRows(train, cfg.Seed, epoch, m.Config.Context)
		if err != nil {
			return nil, err
		}
		for b := 0; b*cfg.BatchRows < len(rows); b++ {
			if epoch == st.Epoch && b < st.Batch {
				continue // done before the interruption
			}
			bt, err := BatchRows(rows[b*cfg.BatchRows:min((b+1)*cfg.BatchRows, len(rows))], cfg.BatchRows, m.Config.Context)
			if err != nil {
				return nil, err
			}
			lr := cfg.Optim.LearningRate(st.Step, total)
			loss, norm, err := tr.runStep(bt, lr)
			if err != nil {
				return nil, fmt.Errorf("step %d: %w", st.Step, err)
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) || math.IsNaN(norm) || math.IsInf(norm, 0) {
				return nil, fmt.Errorf("%w at step %d (epoch %d): loss %v, gradient norm %v; last finite loss %v; lr %.3g — lower the learning rate or check the data; %s",
					ErrNonFinite, st.Step, epoch, loss, norm, lastFinite, lr, keptCheckpoint(cfg.CheckpointDir, StateFile))
			}
			diverged, suspect, why := st.Monitor.judge(loss, nllScale)
			if diverged {
				return nil, fmt.Errorf("%w at step %d (epoch %d): loss %s; gradient norm %.3g; lr %.3g — lower the learning rate or check the data; %s",
					ErrDiverged, st.Step, epoch, why, norm, lr, keptCheckpoint(cfg.CheckpointDir, StateFile))
			}
			// This step's loss is the first computed with the weights of the pending checkpoint:
			// it is written only now, and only if that loss is in line with the run's level.
			if pending != nil {
				if !suspect {
					if err := writeDirAtomic(cfg.CheckpointDir, pending); err != nil {
						return nil, err
					}
				}
				pending = nil
			}
			st.Monitor.accept(loss)
			lastFinite = loss
			st.Step++
			st.Batch = b + 1
			st.Epoch = epoch
			st.EpochLossSum += loss
			st.EpochSteps++
			tokens += int64(bt.LossTokens())
			st.LossTokens += int64(bt.LossTokens())
			stepsThisCall++
			if progress != nil {
				el := time.Since(begin).Seconds()
				tps := float64(tokens) / el
				eta := time.Duration(float64(total-st.Step) * el / float64(stepsThisCall) * float64(time.Second))
				progress(Progress{Step: st.Step, TotalSteps: total, Epoch: epoch, Loss: loss, GradNorm: norm, LR: lr, Tokens: tokens, TokensPerSec: tps, ETA: eta})
			}
			if cfg.CheckpointDir != "" && cfg.CheckpointEvery > 0 && st.Step%cfg.CheckpointEvery == 0 {
				if pending, err = trainingFiles(m, cfg.CheckpointDir, st, loss); err != nil {
					return nil, err
				}
			}
			if cfg.StopAfterSteps > 0 && stepsThisCall >= cfg.StopAfterSteps {
				return nil, errStopped
			}
		}
		st.Epoch, st.Batch = epoch+1, 0
		if (epoch+1)%evalEvery != 0 && epoch != cfg.Epochs-1 {
			continue // not a point of the curve (the checkpoints of the steps cover resumption)
		}
		held, err := tr.heldOutLoss(heldOut)
		if err != nil {
			return nil, err
		}
		point := EpochStat{Epoch: epoch, TrainLoss: st.EpochLossSum / float64(max(st.EpochSteps, 1)), HeldOut: Float(held)}
		st.EpochLossSum, st.EpochSteps = 0, 0
		// The weights of a best epoch are copied unless it is the final one (the model's own).
		keep := func() (map[string][]float32, error) {
			if epoch == cfg.Epochs-1 {
				return nil, nil
			}
			return m.Params()
		}
		if len(heldOut) == 0 || held < float64(st.BestHeldOut) || st.BestEpoch < 0 {
			st.BestEpoch, st.BestHeldOut = epoch, Float(held)
			if st.BestParams, err = keep(); err != nil {
				return nil, err
			}
		}
		if cfg.HeldOutScore != nil {
			score, err := cfg.HeldOutScore(m)
			if err != nil {
				return nil, fmt.Errorf("%s at epoch %d: %w", cfg.ScoreName, epoch, err)
			}
			point.Score = new(Float(score))
			if st.BestScoreEpoch < 0 || score > float64(st.BestScore) {
				st.BestScoreEpoch, st.BestScore = epoch, Float(score)
				if st.BestScoreParams, err = keep(); err != nil {
					return nil, err
				}
			}
		}
		st.Curve = append(st.Curve, point)
		if cfg.CheckpointDir != "" {
			if pending, err = trainingFiles(m, cfg.CheckpointDir, st, lastFinite); err != nil {
				return nil, err
			}
		}
	}
	// The end: no next step to wait for; the final weights are the run's result.
	if pending != nil {
		if err := writeDirAtomic(cfg.CheckpointDir, pending); err != nil {
			return nil, err
		}
	}
	res.Curve, res.BestEpoch, res.Steps, res.LossTokens, res.BestParams = st.Curve, st.BestEpoch, st.Step, st.LossTokens, st.BestParams
	res.BestScoreEpoch, res.BestScoreParams = st.BestScoreEpoch, st.BestScoreParams
	return res, nil
}

// errStopped is returned when TrainConfig.StopAfterSteps ends a call early.
var errStopped = errors.New("training stopped after the requested number of steps")

// IsStopped reports whether err means training stopped early on request (TrainConfig.StopAfterSteps).
func IsStopped(err error) bool { return errors.Is(err, errStopped) }

// trainState is the resumable position of a training run (saved with each checkpoint).
type trainState struct {
	Epoch        int         `json:"epoch"`          // current epoch
	Batch        int         `json:"batch"`          // batches of the current epoch already done
	Step         int         `json:"step"`           // optimiser steps done
	EpochLossSum float64     `json:"epoch_loss_sum"` // train loss summed since the last curve point
	EpochSteps   int         `json:"epoch_steps"`
	Curve        []EpochStat `json:"curve"`
	BestEpoch    int         `json:"best_epoch"`
	BestHeldOut  Float       `json:"best_held_out"`
	LossTokens   int64       `json:"loss_tokens"`  // loss tokens of every step so far, across resumptions
	Monitor      lossMonitor `json:"loss_monitor"` // running level of the loss, for divergence
	// Config and Data are the run's settings and a fingerprint of its data; a resumed run must
	// match them (absent in checkpoints written before they were recorded).
	Config *TrainConfig `json:"config,omitempty"`
	Data   string       `json:"data,omitempty"`
	// BestParams are the best epoch's weights when that is not the latest (saved as best.safetensors).
	BestParams map[string][]float32 `json:"-"`
	// The best epoch by TrainConfig.HeldOutScore (−1: none yet or no score), its score and, when
	// not the latest, its weights (best_score.safetensors).
	BestScoreEpoch  int                  `json:"best_score_epoch"`
	BestScore       Float                `json:"best_score"`
	BestScoreParams map[string][]float32 `json:"-"`
}
