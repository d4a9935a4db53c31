package bench

import (
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gosrppo/gosrppo/srppo"
)

// Benchmarks: one sub-benchmark per size (d128 = design §4, d256, d512). Each reports
//
//	tokens/s  useful tokens (see Tokens) per second
//	GFLOP/s   executed FLOPs (see FLOPs) per second
//	ms-median, ms-min, ms-max      per-operation wall time (tokens/s and GFLOP/s use the median)
//	cpu-ms-median                  per-operation CPU time of the process (user + system, all
//	                               threads): on a shared machine it moves far less with other jobs'
//	                               load than the wall time, so A/B comparisons there use it
//	compiles-first                 graph compilations of the first operation (warm-up or first timed)
//	compiles/op, graph-calls/op    compilations and graph executions per later operation
//
// Set-up and one warm-up operation (which compiles every graph; ms-warmup is its time) are outside
// the timed region. BENCH_NO_WARMUP ("all" or a list of workloads) skips it, for the expensive
// operations: compilation takes milliseconds, so a first operation costs about as much as the
// others (compare ms-warmup with ms-median); compiles/op then shows the compilations.

func BenchmarkTrainStep(b *testing.B) { forSizes(b, benchTrainStep) }

func BenchmarkGenerate(b *testing.B) { forSizes(b, benchGenerate) }

func BenchmarkScore(b *testing.B) { forSizes(b, benchScore) }

func BenchmarkPPOIteration(b *testing.B) { forSizes(b, benchPPO) }

func forSizes(b *testing.B, f func(*testing.B, srppo.Config) func() error) {
	for _, s := range Sizes() {
		b.Run(s.Name, func(b *testing.B) {
			op := f(b, s.Config)
			run(b, s.Config, op)
			if b.Name() == "BenchmarkPPOIteration/"+s.Name {
				reportStages(b)
			}
		})
	}
}

// stageTimes are the sample / score / update seconds of every PPO iteration run so far.
var stageTimes [][3]float64

// reportStages reports the median time of each PPO stage over the timed iterations (the last
// b.N recorded) as ms-sample, ms-score, ms-update; advantages and bookkeeping are the rest.
func reportStages(b *testing.B) {
	last := stageTimes[max(len(stageTimes)-b.N, 0):]
	for i, name := range []string{"ms-sample", "ms-score", "ms-update"} {
		var xs []float64
		for _, st := range last {
			xs = append(xs, st[i])
		}
		b.ReportMetric(Median(xs)*1e3, name)
	}
}

// run warms op up (unless BENCH_NO_WARMUP says not to), times every operation of the b.Loop
// separately, and reports tokens/s and GFLOP/s at the median operation time, the median/min/max
// in ms, and the graph compilations and calls counted around each operation: compiles-first for
// the first operation run (the warm-up, or the first timed one), compiles/op and graph-calls/op
// averaged over the later ones (over the only one when there is a single, unwarmed operation).
func run(b *testing.B, c srppo.Config, op func() error) {
	b.Helper()
	w := workloadOf(b.Name())
	var counts []graphCounts
	warmMS := -1.0
	if !noWarmup(w) {
		t0 := time.Now()
		n, err := countGraphs(op)
		if err != nil {
			b.Fatal(err)
		}
		warmMS = time.Since(t0).Seconds() * 1e3
		counts = append(counts, n)
	}
	var times, cpu []float64
	for b.Loop() {
		t0, c0 := time.Now(), processCPU()
		n, err := countGraphs(op)
		if err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(t0).Seconds())
		cpu = append(cpu, processCPU()-c0)
		counts = append(counts, n)
	}
	slices.Sort(times)
	med := Median(times)
	b.ReportMetric(float64(Tokens(w))/med, "tokens/s")
	b.ReportMetric(FLOPs(w, c)/med/1e9, "GFLOP/s")
	b.ReportMetric(med*1e3, "ms-median")
	b.ReportMetric(times[0]*1e3, "ms-min")
	b.ReportMetric(times[len(times)-1]*1e3, "ms-max")
	b.ReportMetric(Median(cpu)*1e3, "cpu-ms-median")
	if warmMS >= 0 { // reported after the loop: b.Loop's timer reset clears earlier metrics
		b.ReportMetric(warmMS, "ms-warmup")
	}
	b.ReportMetric(float64(counts[0].compiles), "compiles-first")
	later := counts[min(1, len(counts)-1):]
	var compiles, runs float64
	for _, n := range later {
		compiles += float64(n.compiles)
		runs += float64(n.runs)
	}
	b.ReportMetric(compiles/float64(len(later)), "compiles/op")
	b.ReportMetric(runs/float64(len(later)), "graph-calls/op")
}

// noWarmup reports whether BENCH_NO_WARMUP ("all" or a comma-separated list of workloads) skips
// the warm-up of w.
func noWarmup(w string) bool {
	v := os.Getenv("BENCH_NO_WARMUP")
	return v == "all" || slices.Contains(strings.Split(v, ","), w)
}

func workloadOf(name string) string {
	for _, w := range Workloads {
		if len(name) > len("Benchmark"+w) && name[:len("Benchmark"+w)+1] == "Benchmark"+w+"/" {
			return w
		}
	}
	panic("bench: no workload for " + name)
}

// models are the four networks of a PPO iteration, with random weights (the cost does not depend
// on them): π_sft and π_pt drawn with different seeds, the policy a copy of π_sft, the critic
// π_sft's trunk plus a zero value head.
func models(tb testing.TB, c srppo.Config) srppo.Models {
	tb.Helper()
	sft, err := srppo.NewLM(c, 2)
	if err != nil {
		tb.Fatal(err)
	}
	pt, err := srppo.NewLM(c, 3)
	if err != nil {
		tb.Fatal(err)
	}
	policy, err := sft.Clone()
	if err != nil {
		tb.Fatal(err)
	}
	critic, err := srppo.NewCritic(sft)
	if err != nil {
		tb.Fatal(err)
	}
	return srppo.Models{Policy: policy, SFT: sft, PT: pt, Critic: critic}
}

// TrainBatch is the training-step batch: TrainRows rows of one TrainCols-token sequence each,
// every target in the loss, tokens from a fixed pattern.
func TrainBatch() *srppo.Batch {
	bt := srppo.NewBatch(TrainRows, TrainCols)
	for i := range bt.Tokens {
		r, t := i/TrainCols, i%TrainCols
		bt.Tokens[i], bt.Targets[i] = ResponseToken(r, t), ResponseToken(r, t+1)
		bt.Positions[i], bt.Segments[i], bt.LossMask[i] = int32(t), 1, 1
	}
	return bt
}

func benchTrainStep(b *testing.B, c srppo.Config) func() error {
	m, err := srppo.NewLM(c, 1)
	if err != nil {
		b.Fatal(err)
	}
	st, err := srppo.NewStepper(m, srppo.DefaultPretrainConfig())
	if err != nil {
		b.Fatal(err)
	}
	bt := TrainBatch()
	return func() error {
		_, _, err := st.Step(bt, 1e-4)
		return err
	}
}

// sampleConfig forces MaxNew tokens per row (no stop token) at temperature 1.
func sampleConfig() srppo.SampleConfig {
	return srppo.SampleConfig{MaxNew: MaxNew, Temperature: 1, StopToken: -1, BatchRows: BatchRows}
}

func benchGenerate(b *testing.B, c srppo.Config) func() error {
	m, err := srppo.NewLM(c, 1)
	if err != nil {
		b.Fatal(err)
	}
	s, err := srppo.NewSampler(m)
	if err != nil {
		b.Fatal(err)
	}
	prompts := RolloutPrompts()
	rng := rand.New(rand.NewPCG(1, 2))
	return func() error {
		_, err := s.Sample(prompts, sampleConfig(), rng)
		return err
	}
}

// ppoConfig is design §3's configuration ("eos" placement).
func ppoConfig() srppo.PPOConfig {
	cfg := srppo.DefaultPPOConfig(srppo.PlaceEOS)
	cfg.Prompts, cfg.Samples, cfg.MaxNew, cfg.ScoreBatch = Prompts, Samples, MaxNew, BatchRows
	cfg.Minibatch, cfg.Epochs = Minibatch, PPOEpochs
	return cfg
}

// rollout builds a Rollout-stage batch from prompts and sampled (or forced) responses.
func rollout(prompts [][]int32, responses [][]int32, logp [][]float32) *srppo.Rollout {
	rows := make([]srppo.RolloutRow, len(prompts))
	for i := range rows {
		rows[i] = srppo.RolloutRow{PromptIndex: i / Samples, PromptTokens: prompts[i], Tokens: responses[i],
			LogpOld: logp[i], Stopped: false, Truncated: true}
	}
	return &srppo.Rollout{Config: ppoConfig(), Rows: rows, Stage: srppo.StageRollout}
}

// ForcedResponses are the scoring workload's responses: MaxNew fixed tokens per row.
func ForcedResponses() [][]int32 {
	out := make([][]int32, Rows)
	for r := range out {
		out[r] = make([]int32, MaxNew)
		for t := range out[r] {
			out[r][t] = ResponseToken(r, t)
		}
	}
	return out
}

func benchScore(b *testing.B, c srppo.Config) func() error {
	ms := models(b, c)
	logp := make([][]float32, Rows)
	for i := range logp {
		logp[i] = make([]float32, MaxNew)
	}
	r := rollout(RolloutPrompts(), ForcedResponses(), logp)
	return func() error {
		r.Stage = srppo.StageRollout
		return srppo.Score(r, ms)
	}
}

func benchPPO(b *testing.B, c srppo.Config) func() error {
	ms := models(b, c)
	s, err := srppo.NewSampler(ms.Policy)
	if err != nil {
		b.Fatal(err)
	}
	prompts := RolloutPrompts()
	rng := rand.New(rand.NewPCG(1, 2))
	return func() error { return ppoIteration(ms, s, prompts, rng) }
}

// ppoIteration is one PPO iteration with fixed work: sample Rows × MaxNew forced tokens, Score
// (3 LMs + critic), Advantages, Update (PPOEpochs × Rows/Minibatch policy and critic steps). It
// is PPORun.Iterate without prompt drawing, metrics, logs and checkpoints, and with the stop token
// disabled so that every response has MaxNew tokens.
func ppoIteration(ms srppo.Models, s *srppo.Sampler, prompts [][]int32, rng *rand.Rand) error {
	t0 := time.Now()
	out, err := s.Sample(prompts, sampleConfig(), rng)
	if err != nil {
		return err
	}
	t1 := time.Now()
	r := rollout(prompts, out.Tokens, out.LogProbs)
	if err := srppo.Score(r, ms); err != nil {
		return err
	}
	t2 := time.Now()
	if err := srppo.Advantages(r); err != nil {
		return err
	}
	if _, err = srppo.Update(r, ms, rng); err != nil {
		return err
	}
	stageTimes = append(stageTimes, [3]float64{t1.Sub(t0).Seconds(), t2.Sub(t1).Seconds(), time.Since(t2).Seconds()})
	return nil
}
