package bench

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/gosrppo/gosrppo/srppo"
)

// TestParams checks the parameter-count formula and ParamShapes against the library's models.
func TestParams(t *testing.T) {
	for _, s := range Sizes() {
		m, err := srppo.NewLM(s.Config, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := m.NumParams(), Params(s.Config); got != want {
			t.Errorf("%s: NumParams %d, formula %d", s.Name, got, want)
		}
		ps, err := m.Params()
		if err != nil {
			t.Fatal(err)
		}
		shapes := ParamShapes(s.Config)
		if len(ps) != len(shapes) {
			t.Errorf("%s: %d parameters, ParamShapes has %d", s.Name, len(ps), len(shapes))
		}
		for name, data := range ps {
			n := 1
			for _, d := range shapes[name] {
				n *= d
			}
			if len(data) != n {
				t.Errorf("%s: %s has %d values, shape %v", s.Name, name, len(data), shapes[name])
			}
		}
	}
	if n := Params(Sizes()[0].Config); n < 350_000 || n > 450_000 {
		t.Errorf("design model has %d parameters, design §4 says ~0.4M", n)
	}
}

// TestShapes checks that the padded shapes the FLOP formula assumes are the ones the library
// builds: the scoring/update row width and the sampler's prompt bucket.
func TestShapes(t *testing.T) {
	c := Sizes()[0].Config
	prompts := RolloutPrompts()
	seqs := make([]srppo.Sequence, len(prompts))
	maxLen := 0
	for i, p := range prompts {
		seqs[i] = srppo.PairSequence(p, ForcedResponses()[i])
		maxLen = max(maxLen, len(p))
	}
	if w := srppo.RowWidth(seqs, c.Context); w != PairWidth {
		t.Errorf("RowWidth = %d, PairWidth = %d", w, PairWidth)
	}
	for start := 0; start < len(seqs); start += Minibatch {
		if w := srppo.RowWidth(seqs[start:start+Minibatch], c.Context); w != PairWidth {
			t.Errorf("minibatch at %d: RowWidth = %d, PairWidth = %d", start, w, PairWidth)
		}
	}
	if w := min((maxLen+3)/4*4, c.Context-MaxNew); w != PromptWidth {
		t.Errorf("prompt bucket = %d, PromptWidth = %d", w, PromptWidth)
	}
	if len(prompts) != Rows || Rows%BatchRows != 0 || Rows%Minibatch != 0 || CacheCols != c.Context {
		t.Errorf("workload constants inconsistent")
	}
}

// tiny is a model small enough for the smoke test to run every workload in a few seconds.
func tiny() srppo.Config {
	c := srppo.DefaultConfig(Vocab)
	c.DModel, c.Heads, c.DFF, c.Layers = 16, 2, 64, 1
	return c
}

// TestWorkloadsRun runs one operation of every workload on a tiny model (so the benchmarks cannot
// rot without `go test ./...` noticing) and checks the forced response length and the graph counts.
func TestWorkloadsRun(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	c := tiny()
	ms := models(t, c)
	st, err := srppo.NewStepper(ms.PT, srppo.DefaultPretrainConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Step(TrainBatch(), 1e-4); err != nil {
		t.Fatal(err)
	}
	s, err := srppo.NewSampler(ms.Policy)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	out, err := s.Sample(RolloutPrompts(), sampleConfig(), rng)
	if err != nil {
		t.Fatal(err)
	}
	for i, toks := range out.Tokens {
		if len(toks) != MaxNew || len(out.LogProbs[i]) != MaxNew {
			t.Fatalf("row %d: %d tokens, want %d forced", i, len(toks), MaxNew)
		}
	}
	r := rollout(RolloutPrompts(), out.Tokens, out.LogProbs)
	if err := srppo.Score(r, ms); err != nil {
		t.Fatal(err)
	}
	first, err := countGraphs(func() error { return ppoIteration(ms, s, RolloutPrompts(), rng) })
	if err != nil {
		t.Fatal(err)
	}
	counts, err := countGraphs(func() error { return ppoIteration(ms, s, RolloutPrompts(), rng) })
	if err != nil {
		t.Fatal(err)
	}
	// Rows/BatchRows sampler batches × MaxNew calls, as many scoring batches × 4 models, 8
	// minibatches × 2 steps.
	if want := Rows/BatchRows*(MaxNew+4) + PPOEpochs*Rows/Minibatch*2; counts.runs != want || counts.compiles != 0 {
		t.Errorf("second PPO iteration: %d graph calls (want %d), %d compilations (want 0)", counts.runs, want, counts.compiles)
	}
	t.Logf("first PPO iteration: %d compilations, %d graph calls", first.compiles, first.runs)
}

// TestExportReference writes the weights, the training batch's log-probs, a first training step
// and greedy decoding of the rollout prompts for torch_ref.py --check. It runs only when
// BENCH_EXPORT_DIR is set (run.sh sets it); BENCH_EXPORT_SIZE picks the size (default d128).
func TestExportReference(t *testing.T) {
	dir := os.Getenv("BENCH_EXPORT_DIR")
	if dir == "" {
		t.Skip("BENCH_EXPORT_DIR not set")
	}
	name := os.Getenv("BENCH_EXPORT_SIZE")
	if name == "" {
		name = "d128"
	}
	size, ok := SizeByName(name)
	if !ok {
		t.Fatalf("unknown size %q", name)
	}
	c := size.Config
	m, err := srppo.NewLM(c, 7)
	if err != nil {
		t.Fatal(err)
	}
	params, err := m.Params()
	if err != nil {
		t.Fatal(err)
	}
	shapes := ParamShapes(c)
	ts := map[string]srppo.Tensor{}
	for n, data := range params {
		ts[n] = srppo.Tensor{DType: "F32", Shape: shapes[n], F32: data}
	}
	st, err := srppo.EncodeSafetensors(ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.safetensors"), st, 0o644); err != nil {
		t.Fatal(err)
	}
	bt := TrainBatch()
	logp, err := m.LogProbs(bt)
	if err != nil {
		t.Fatal(err)
	}
	s, err := srppo.NewSampler(m)
	if err != nil {
		t.Fatal(err)
	}
	greedy, err := s.Sample(RolloutPrompts(), srppo.SampleConfig{MaxNew: MaxNew, Greedy: true, StopToken: -1, BatchRows: BatchRows}, nil)
	if err != nil {
		t.Fatal(err)
	}
	trained, err := m.Clone()
	if err != nil {
		t.Fatal(err)
	}
	stepper, err := srppo.NewStepper(trained, srppo.DefaultPretrainConfig())
	if err != nil {
		t.Fatal(err)
	}
	loss, norm, err := stepper.Step(bt, 1e-4)
	if err != nil {
		t.Fatal(err)
	}
	fl := map[string]float64{}
	for _, w := range Workloads {
		fl[w] = FLOPs(w, c)
	}
	ex := map[string]any{"size": name, "params": m.NumParams(), "train_logp": logp, "train_loss": loss,
		"train_grad_norm": norm, "greedy_tokens": greedy.Tokens, "greedy_logp": greedy.LogProbs, "flops": fl}
	data, err := json.Marshal(ex)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "export.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}
