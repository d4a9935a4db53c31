package srppo

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory jobs for EstimateMemory.
const (
	JobEval = "eval" // one model, cached decoding
	JobSFT  = "sft"  // one model trained with AdamW
	JobPPO  = "ppo"  // policy and critic trained with AdamW, π_sft and π_pt frozen
)

// MemoryJob describes a run for EstimateMemory.
type MemoryJob struct {
	Kind string // JobEval, JobSFT or JobPPO
	// WeightBytes is the width of a stored weight of the models that are not trained (the eval
	// model; π_sft and π_pt in PPO): 4 (float32, the default) or 2 (LM.StoreBFloat16). Trained
	// models are float32.
	WeightBytes int
	TrainRows   int // rows per training step (SFT batch, PPO minibatch)
	ScoreRows   int // rows per sampling and teacher-forced scoring batch (eval and PPO rollouts)
}

// MemoryEstimate is an estimate, in bytes, of the memory a run holds at its peak.
type MemoryEstimate struct {
	Params      int64 // scalar parameters of one model
	Weights     int64 // every model's weights (4 for PPO)
	Optimizer   int64 // gradients and AdamW's two moments of the trained models
	Copies      int64 // host copies made when checkpointing (one per trained model)
	Activations int64 // the largest step: training activations kept for backpropagation, or scoring logits, or sampling caches
	// Overhead is what the parts above do not count — the backend's working buffers, the Go
	// heap's slack, the runtime — taken as memoryOverhead of their sum.
	Overhead int64
	Total    int64
}

// memoryOverhead is the share added to the counted bytes, calibrated on one measurement: an SFT
// step of a 44M-parameter Llama-family model (d 512, 4 layers, vocabulary 32000) on 8 rows of 128
// tokens peaked at 1.89 GiB of resident memory (VmHWM) on the Go backend, against 1.37 GiB counted.
const memoryOverhead = 0.4

// activationFloats is the number of floats one token keeps per layer for backpropagation in a
// training step (inputs of every matmul, norm, softmax and activation, attention probabilities
// of both the scores and the softmax), counted from the graphs of model.go and llama.go.
func (c Config) activationFloats(t int) int64 {
	d, f, h, dh, kv := int64(c.DModel), int64(c.DFF), int64(c.Heads), int64(c.HeadDim()), int64(c.KVHeadCount())
	attn := 2*h*dh + 4*kv*dh + 2*h*int64(t) // q, ctx; k, v and their repeats; scores and probabilities
	return 6*d + 4*f + attn
}

// EstimateMemory estimates the peak memory of a run with this model config. Weights: one model
// for eval and SFT, four for PPO (policy, critic trunk, π_sft, π_pt; the last two, like the eval
// model, in WeightBytes a parameter); the trained models add a
// gradient and AdamW's two moments (12 bytes a parameter, float32) and a host copy when they are
// checkpointed. The largest step is the biggest of: a training step of TrainRows × Context tokens
// (activations of every layer plus logits, their softmax and gradient, [rows, T, vocab] each),
// teacher-forced scoring of ScoreRows rows (logits and log-softmax), and cached sampling of
// ScoreRows rows (the key/value cache, kv_heads wide, and one layer's prefill activations).
func EstimateMemory(c Config, job MemoryJob) MemoryEstimate {
	var e MemoryEstimate
	for _, p := range c.paramShapes() {
		n := int64(1)
		for _, d := range p.shape {
			n *= int64(d)
		}
		e.Params += n
	}
	wb := int64(job.WeightBytes)
	if wb == 0 {
		wb = 4
	}
	trained := int64(0)
	switch job.Kind {
	case JobEval:
		e.Weights = e.Params * wb
	case JobSFT:
		e.Weights, trained = e.Params*4, 1
	case JobPPO:
		e.Weights, trained = 2*e.Params*4+2*e.Params*wb, 2
		e.Weights += 4 * int64(c.DModel) // the value head
	}
	e.Optimizer = trained * e.Params * 12
	e.Copies = trained * e.Params * 4
	t, v, l := int64(c.Context), int64(c.VocabSize), int64(c.Layers)
	logits := func(rows, copies int64) int64 { return rows * t * v * 4 * copies }
	var train, score int64
	if job.Kind != JobEval && job.TrainRows > 0 {
		rows := int64(job.TrainRows)
		train = rows*t*l*c.activationFloats(c.Context)*4 + logits(rows, 3)
	}
	if job.ScoreRows > 0 {
		rows := int64(job.ScoreRows)
		cache := rows * l * 2 * int64(c.KVHeadCount()) * t * int64(c.HeadDim()) * 4
		sample := cache + rows*t*c.activationFloats(c.Context)*4*2 + rows*v*4*2
		score = sample
		if job.Kind != JobEval {
			score = max(sample, logits(rows, 2)+rows*t*c.activationFloats(c.Context)*4*2)
		}
	}
	e.Activations = max(train, score)
	counted := e.Weights + e.Optimizer + e.Copies + e.Activations
	e.Overhead = int64(float64(counted) * memoryOverhead)
	e.Total = counted + e.Overhead
	return e
}

// String summarises the estimate in GiB.
func (e MemoryEstimate) String() string {
	g := func(b int64) string { return strconv.FormatFloat(float64(b)/(1<<30), 'f', 2, 64) }
	return fmt.Sprintf("%s GiB (%.0fM parameters: weights %s, gradients + AdamW %s, checkpoint copies %s, largest step %s, overhead %s)",
		g(e.Total), float64(e.Params)/1e6, g(e.Weights), g(e.Optimizer), g(e.Copies), g(e.Activations), g(e.Overhead))
}

// AvailableMemory is the memory the kernel says a new process can use without swapping
// (MemAvailable in /proc/meminfo); ok is false where that is unknown.
func AvailableMemory() (bytes int64, ok bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemAvailable:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			return kb * 1024, err == nil
		}
	}
	return 0, false
}

// CheckMemory returns an error naming the estimate and the limit when est does not fit in limit
// bytes (limit ≤ 0: no check). what names the run and where the limit comes from.
func CheckMemory(est MemoryEstimate, limit int64, what string) error {
	if limit <= 0 || est.Total <= limit {
		return nil
	}
	return fmt.Errorf("%s needs about %s, more than the %.2f GiB limit; use a smaller -context or batch, a smaller model, or a larger limit",
		what, est, float64(limit)/(1<<30))
}

// ReadModelConfig reads the Config of a model directory (config.json only, no weights), as
// LoadPretrained or LoadModel would see it with this context (0: the checkpoint's own).
func ReadModelConfig(dir string, context int) (Config, error) {
	dir, err := modelDir(dir)
	if err != nil {
		return Config{}, err
	}
	path := dir + string(os.PathSeparator) + ConfigFile
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	var cfg Config
	if hfModelType(raw) != "" {
		if cfg, err = parseHFConfig(raw, path); err != nil {
			return Config{}, err
		}
	} else {
		var cc checkpointConfig
		if err := readJSON(path, &cc); err != nil {
			return Config{}, err
		}
		cfg = cc.Model
	}
	if context > 0 {
		cfg.Context = context
	}
	return cfg, nil
}
