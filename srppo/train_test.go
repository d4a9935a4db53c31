package srppo

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gosrppo/gosrppo/datasets"
)

// scalar reads a float32 scalar tensor.
func scalar(t *tensors.Tensor) float64 { return float64(tensors.ToScalar[float32](t)) }

// tinyTokenizer matches tinyConfig's vocabulary of 11 words.
func tinyTokenizer() *datasets.Tokenizer {
	return datasets.NewTokenizer([]string{"a", "b", "c", "d", "e", "f"})
}

func tinyTrainConfig() TrainConfig {
	cfg := DefaultSFTConfig()
	cfg.BatchRows, cfg.Epochs, cfg.MinSteps = 4, 3, 0
	cfg.Optim.LR, cfg.Optim.WarmupSteps, cfg.Optim.WeightDecay = 3e-3, 2, 0.01
	return cfg
}

// demoSequences are eight (prompt, response) pairs over tinyTokenizer: "<bos> <q> x y <a>" → "y x <eos>".
func demoSequences() []Sequence {
	var out []Sequence
	for i := range 8 {
		x, y := int32(5+i%6), int32(5+(i*5+1)%6)
		out = append(out, PairSequence([]int32{datasets.BOSID, datasets.QID, x, y, datasets.AID}, []int32{y, x, datasets.EOSID}))
	}
	return out
}

func newTinyLM(t *testing.T, seed uint64) *LM {
	t.Helper()
	m, err := NewLM(tinyConfig(PositionsLearned), seed)
	if err != nil {
		t.Fatal(err)
	}
	m.Tokenizer = tinyTokenizer()
	return m
}

func TestSFTLossIgnoresPromptTokens(t *testing.T) {
	m := randomizedLM(t, tinyConfig(PositionsLearned), 1)
	tr, err := newTrainer(m, tinyTrainConfig())
	if err != nil {
		t.Fatal(err)
	}
	s := demoSequences()[0]
	bt, _ := OneSequencePerRow([]Sequence{s}, 1, 12)
	loss := func(bt *Batch) float64 {
		in := append(batchInputs(bt), tensors.FromFlatDataAndDimensions(bt.LossMask, bt.B, bt.T))
		out, err := tr.evalL.Call(in...)
		if err != nil {
			t.Fatal(err)
		}
		return scalar(out[0]) / scalar(out[1])
	}
	base := loss(bt)
	// Change the label of a prompt position (target of column 1 is the prompt token x).
	changed := *bt
	changed.Targets = append([]int32(nil), bt.Targets...)
	changed.Targets[1] = 10
	if got := loss(&changed); got != base {
		t.Errorf("changing a prompt-token label changed the SFT loss: %v → %v", base, got)
	}
	// Changing a response label must change it.
	changed.Targets[s.LossFrom+1] = 10
	if got := loss(&changed); got == base {
		t.Error("changing a response-token label did not change the loss")
	}
	// The loss equals the brute-force mean NLL over response tokens.
	params, _ := m.Params()
	ref := refForward(m.Config, params, s.Tokens[:len(s.Tokens)-1])
	var want float64
	for i := s.LossFrom; i < len(s.Tokens)-1; i++ {
		want -= refLogSoftmax(ref[i])[s.Tokens[i+1]]
	}
	want /= float64(len(s.Tokens) - 1 - s.LossFrom)
	if math.Abs(base-want) > 1e-4 {
		t.Errorf("SFT loss %v, brute force %v", base, want)
	}
}

func TestMemorisesEightDemos(t *testing.T) {
	m := newTinyLM(t, 2)
	cfg := tinyTrainConfig()
	cfg.Epochs, cfg.BatchRows, cfg.Optim.LR, cfg.Optim.WarmupSteps = 300, 2, 3e-2, 10
	demos := demoSequences()
	res, err := Train(m, demos, nil, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if last := res.Curve[len(res.Curve)-1].TrainLoss; last > 0.05 {
		t.Errorf("final train loss %v, want < 0.05", last)
	}
	for i, d := range demos {
		prompt := d.Tokens[:d.LossFrom+1]
		got, err := m.Greedy([][]int32{prompt}, 4)
		if err != nil {
			t.Fatal(err)
		}
		want := d.Tokens[d.LossFrom+1:]
		if !equalPrefix(got[0], want) {
			t.Errorf("demo %d: greedy %v, want %v", i, got[0], want)
		}
	}
}

func equalPrefix(got, want []int32) bool {
	if len(got) < len(want) {
		return false
	}
	for i := range want {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func TestCheckpointRoundTripIsBitExact(t *testing.T) {
	m := randomizedLM(t, tinyConfig(PositionsRoPE), 4)
	m.Tokenizer = tinyTokenizer()
	dir := filepath.Join(t.TempDir(), "ckpt")
	if err := SaveModel(dir, m); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadModel(dir, &m.Config, m.Tokenizer)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := m.Params()
	b, _ := loaded.Params()
	for name, va := range a {
		for i := range va {
			if math.Float32bits(va[i]) != math.Float32bits(b[name][i]) {
				t.Fatalf("%s[%d]: %v != %v", name, i, va[i], b[name][i])
			}
		}
	}
	seq := []Sequence{demoSequences()[0]}
	la, _ := m.ResponseLogProbs(seq, 1)
	lb, _ := loaded.ResponseLogProbs(seq, 1)
	for i := range la[0] {
		if la[0][i] != lb[0][i] {
			t.Errorf("log-prob %d differs after reload: %v vs %v", i, la[0][i], lb[0][i])
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 1 {
		t.Errorf("checkpoint left temporary files: %v", entries)
	}
}

func TestLoadRefusesMismatch(t *testing.T) {
	m := newTinyLM(t, 1)
	dir := filepath.Join(t.TempDir(), "ckpt")
	if err := SaveModel(dir, m); err != nil {
		t.Fatal(err)
	}
	other := m.Config
	other.DModel, other.Heads = 32, 4
	_, err := LoadModel(dir, &other, nil)
	if err == nil || !strings.Contains(err.Error(), "d_model: configured 32, checkpoint 16") || !strings.Contains(err.Error(), "heads") {
		t.Errorf("config mismatch error = %v", err)
	}
	tok := datasets.NewTokenizer([]string{"a", "b", "c", "d", "e", "z"})
	_, err = LoadModel(dir, nil, tok)
	if err == nil || !strings.Contains(err.Error(), "vocabulary does not match") || !strings.Contains(err.Error(), `"f" vs "z"`) {
		t.Errorf("vocabulary mismatch error = %v", err)
	}
}

func TestResumeEqualsUninterrupted(t *testing.T) {
	cfg := tinyTrainConfig()
	cfg.CheckpointEvery = 1
	demos, held := demoSequences()[:6], demoSequences()[6:]

	full := newTinyLM(t, 8)
	cfg.CheckpointDir = filepath.Join(t.TempDir(), "full")
	want, err := Train(full, demos, held, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}

	// Interrupted twice (mid-epoch and at an epoch boundary), each time in a fresh process-like
	// state: a new model object and nothing but the checkpoint directory.
	cfg.CheckpointDir = filepath.Join(t.TempDir(), "resumed")
	var got *TrainResult
	for _, stop := range []int{3, 2, 0} {
		m := newTinyLM(t, 8)
		c := cfg
		c.StopAfterSteps = stop
		got, err = Train(m, demos, held, c, nil)
		if stop > 0 {
			if !IsStopped(err) {
				t.Fatalf("stop after %d: err = %v", stop, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		a, _ := full.Params()
		b, _ := m.Params()
		for name := range a {
			for i := range a[name] {
				if a[name][i] != b[name][i] {
					t.Fatalf("%s[%d]: uninterrupted %v, resumed %v", name, i, a[name][i], b[name][i])
				}
			}
		}
	}
	if got.Steps != want.Steps || len(got.Curve) != len(want.Curve) || got.BestEpoch != want.BestEpoch {
		t.Fatalf("resumed result %+v, uninterrupted %+v", got, want)
	}
	for i := range want.Curve {
		if got.Curve[i] != want.Curve[i] {
			t.Errorf("epoch %d: resumed %+v, uninterrupted %+v", i, got.Curve[i], want.Curve[i])
		}
	}
}

func TestCheckpointedLRNeverOverridesConfig(t *testing.T) {
	cfg := tinyTrainConfig()
	cfg.CheckpointDir = filepath.Join(t.TempDir(), "ckpt")
	cfg.CheckpointEvery = 1
	cfg.StopAfterSteps = 2 // the checkpoint of step 1 is written once step 2 shows it sound
	m := newTinyLM(t, 3)
	if _, err := Train(m, demoSequences(), nil, cfg, nil); !IsStopped(err) {
		t.Fatal(err)
	}
	// The learning rate is not in the checkpoint: a resumed run's rate comes from its schedule
	// (a resume with another configured rate is refused; see TestResumeRefusesChangedSettings).
	ts, _, err := ReadSafetensors(filepath.Join(cfg.CheckpointDir, StateTensors))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ts[optimizerLRPath]; ok || len(ts) == 0 {
		t.Errorf("checkpoint state holds %d tensors, learning rate among them: %v", len(ts), ok)
	}
	cfg.StopAfterSteps = 1
	m2 := newTinyLM(t, 3)
	if _, err := Train(m2, demoSequences(), nil, cfg, nil); !IsStopped(err) {
		t.Fatal(err)
	}
	v := m2.store.GetVariable(optimizerLRPath)
	if v == nil {
		t.Fatal("no learning-rate variable")
	}
	want := float32(cfg.Optim.LearningRate(1, 6))
	if got := scalar(v.MustValue()); math.Abs(got-float64(want)) > 1e-9 {
		t.Errorf("learning rate used after resume %v, configured schedule gives %v", got, want)
	}
}

// A NaN stops training with a diagnosis; when no checkpoint was written yet the message says so
// rather than naming a directory that does not exist.
func TestNaNStopsWithDiagnosisNamingOnlyExistingDirs(t *testing.T) {
	cfg := tinyTrainConfig()
	cfg.CheckpointDir = filepath.Join(t.TempDir(), "ckpt")
	cfg.CheckpointEvery = 1
	cfg.Optim.LR, cfg.Optim.WarmupSteps = 1e37, 1 // the first update makes every weight huge
	_, err := Train(newTinyLM(t, 3), demoSequences(), nil, cfg, nil)
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "at step 1") || !strings.Contains(err.Error(), "no checkpoint was written before it") {
		t.Fatalf("err = %v", err)
	}
	t.Logf("diagnosis: %v", err)
	if strings.Contains(err.Error(), cfg.CheckpointDir) {
		t.Errorf("message names %s, which was never written", cfg.CheckpointDir)
	}
	if _, err := os.Stat(cfg.CheckpointDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("checkpoint directory exists: %v", err)
	}
}

// A loss that explodes while staying finite (issue 17: SFT at lr 1e6 reached 1e13 and exited 0)
// stops training; the checkpoint kept is one whose next step is finite and in line: resuming
// from it with the same settings takes that step without stopping.
func TestDivergenceStopsAndKeptCheckpointResumesFinite(t *testing.T) {
	cfg := tinyTrainConfig()
	cfg.Epochs = 40
	cfg.CheckpointDir = filepath.Join(t.TempDir(), "ckpt")
	cfg.CheckpointEvery = 1
	cfg.Optim.LR, cfg.Optim.WarmupSteps = 1e4, 1000 // lr 10, 20, 30, …: the loss climbs to 1e4 in a few steps
	var losses []float64
	_, err := Train(newTinyLM(t, 3), demoSequences(), nil, cfg, func(p Progress) { losses = append(losses, p.Loss) })
	if !errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), "exceeds the cap") || !strings.Contains(err.Error(), "is kept in "+cfg.CheckpointDir) {
		t.Fatalf("err = %v (losses %v)", err, losses)
	}
	t.Logf("diagnosis: %v", err)
	var st trainState
	if err := readJSON(filepath.Join(cfg.CheckpointDir, StateFile), &st); err != nil {
		t.Fatal(err)
	}
	if st.Step < 1 || st.Step >= len(losses)+1 {
		t.Fatalf("kept checkpoint at step %d; %d steps ran before the divergence", st.Step, len(losses))
	}
	c := cfg
	c.StopAfterSteps = 1
	var next []float64
	if _, err := Train(newTinyLM(t, 3), demoSequences(), nil, c, func(p Progress) { next = append(next, p.Loss) }); !IsStopped(err) {
		t.Fatalf("resuming from the kept checkpoint (step %d): %v", st.Step, err)
	}
	if len(next) != 1 || next[0] != losses[st.Step] {
		t.Errorf("resumed step loss %v, the original run's step %d had %v", next, st.Step+1, losses[st.Step])
	}
}

// Resuming with any changed setting or other data is refused, naming each field and both values;
// loss_tokens counts the whole run across the resumption.
func TestResumeRefusesChangedSettings(t *testing.T) {
	cfg := tinyTrainConfig()
	cfg.CheckpointDir = filepath.Join(t.TempDir(), "ckpt")
	cfg.CheckpointEvery = 1
	cfg.StopAfterSteps = 3
	if _, err := Train(newTinyLM(t, 3), demoSequences(), nil, cfg, nil); !IsStopped(err) {
		t.Fatal(err)
	}
	changed := cfg
	changed.Seed, changed.Optim.LR = 2, 5e-4
	_, err := Train(newTinyLM(t, 3), demoSequences(), nil, changed, nil)
	if err == nil || !strings.Contains(err.Error(), "optim.lr: checkpoint 0.003, now 0.0005; seed: checkpoint 1, now 2") {
		t.Fatalf("changed settings: %v", err)
	}
	_, err = Train(newTinyLM(t, 3), demoSequences()[1:], nil, cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "was written while training on other data") {
		t.Fatalf("changed data: %v", err)
	}
	t.Logf("changed data: %v", err)
	cfg.StopAfterSteps = 0
	res, err := Train(newTinyLM(t, 3), demoSequences(), nil, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	full, err := Train(newTinyLM(t, 3), demoSequences(), nil, tinyTrainConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.LossTokens != full.LossTokens || res.LossTokens == 0 {
		t.Errorf("loss_tokens after resuming %d, uninterrupted %d", res.LossTokens, full.LossTokens)
	}
}

// A corpus document longer than the context is split into context-sized pieces that train every
// target once; a demonstration is not split.
func TestSplitDocuments(t *testing.T) {
	doc := Sequence{Tokens: []int32{1, 5, 6, 7, 8, 9, 10, 2}} // 8 tokens, 7 targets
	demo := Sequence{Tokens: []int32{1, 3, 5, 4, 6, 7, 8, 2}, LossFrom: 3}
	got := SplitDocuments([]Sequence{{Tokens: []int32{1, 2}}, doc, demo}, 3)
	want := [][]int32{{1, 2}, {1, 5, 6, 7}, {7, 8, 9, 10}, {10, 2}, demo.Tokens}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if !slices.Equal(got[i].Tokens, want[i]) {
			t.Errorf("piece %d = %v, want %v", i, got[i].Tokens, want[i])
		}
	}
	if got[4].LossFrom != 3 {
		t.Errorf("demonstration's loss start %d", got[4].LossFrom)
	}
	// Train accepts the long document and refuses the long demonstration.
	cfg := tinyTrainConfig()
	cfg.Epochs = 1
	long := Sequence{Tokens: slices.Repeat([]int32{5, 6}, 20)}
	if _, err := Train(newTinyLM(t, 1), []Sequence{long}, nil, cfg, nil); err != nil {
		t.Errorf("long document: %v", err)
	}
	if _, err := Train(newTinyLM(t, 1), []Sequence{{Tokens: long.Tokens, LossFrom: 2}}, nil, cfg, nil); err == nil || !strings.Contains(err.Error(), "sequence 1 (from 1): prompt + response has 40 tokens > context 12") {
		t.Errorf("long demonstration: %v", err)
	}
}

func TestMinStepsAddsEpochsAndCurveIsThinned(t *testing.T) {
	m := newTinyLM(t, 5)
	cfg := tinyTrainConfig()
	demos := demoSequences()[:2] // one packed row: one step per epoch
	cfg.Epochs, cfg.MinSteps = 2, 45
	res, err := Train(m, demos, demoSequences()[2:4], cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 45 {
		t.Errorf("%d steps, want 45 (MinSteps)", res.Steps)
	}
	// 45 epochs → a held-out point every 2 epochs, plus the last one.
	if len(res.Curve) != 23 || res.Curve[0].Epoch != 1 || res.Curve[len(res.Curve)-1].Epoch != 44 {
		t.Errorf("curve has %d points (epochs %d…%d), want 23 (1, 3, …, 43, 44)", len(res.Curve), res.Curve[0].Epoch, res.Curve[len(res.Curve)-1].Epoch)
	}
}

// With a held-out score, the best-scoring epoch (the earlier of a tie) is kept beside the
// best-loss one, SaveSFT writes it to best_score/, and a resumed run keeps the same one.
func TestHeldOutScoreKeepsBestScoringEpoch(t *testing.T) {
	cfg := tinyTrainConfig()
	cfg.Epochs = 6
	demos, held := demoSequences()[:6], demoSequences()[6:]
	scores := []float64{0.1, 0.5, 0.9, 0.9, 0.2, 0.3}
	var seen []map[string][]float32
	cfg.ScoreName = "test score"
	cfg.HeldOutScore = func(m *LM) (float64, error) {
		p, err := m.Params()
		seen = append(seen, p)
		return scores[len(seen)-1], err
	}
	m := newTinyLM(t, 3)
	res, err := Train(m, demos, held, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 6 || res.BestScoreEpoch != 2 {
		t.Fatalf("scored %d times, best-scoring epoch %d; want 6 and 2", len(seen), res.BestScoreEpoch)
	}
	for i, p := range res.Curve {
		if p.Score == nil || float64(*p.Score) != scores[i] {
			t.Fatalf("curve point %d score %v, want %v", i, p.Score, scores[i])
		}
	}
	dir := filepath.Join(t.TempDir(), "sft")
	if err := SaveSFT(dir, m, res); err != nil {
		t.Fatal(err)
	}
	best, err := LoadModel(filepath.Join(dir, SFTScoreSubdir), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := best.Params()
	for name, want := range seen[2] {
		if !slices.Equal(got[name], want) {
			t.Fatalf("best_score/%s differs from the weights scored at epoch 2", name)
		}
	}
	if !slices.Equal(got["wte.weight"], seen[2]["wte.weight"]) || slices.Equal(seen[2]["wte.weight"], seen[5]["wte.weight"]) {
		t.Fatal("the test cannot tell epochs 2 and 5 apart")
	}

	// Without a score nothing is written to best_score/; a name without a function is refused.
	plain := tinyTrainConfig()
	res2, err := Train(newTinyLM(t, 3), demos, held, plain, nil)
	if err != nil || res2.BestScoreEpoch != -1 {
		t.Fatalf("unscored run: best-scoring epoch %d, err %v", res2.BestScoreEpoch, err)
	}
	plain.ScoreName = "orphan"
	if _, err := Train(newTinyLM(t, 3), demos, held, plain, nil); err == nil || !strings.Contains(err.Error(), "score_name") {
		t.Errorf("a score name without a function: err = %v", err)
	}

	// Resumed mid-run from checkpoints, a score that depends only on the weights picks the same
	// epoch and weights as the uninterrupted run.
	byWeights := func(m *LM) (float64, error) {
		p, err := m.Params()
		return -math.Abs(float64(p["wte.weight"][0]) - float64(seen[3]["wte.weight"][0])), err
	}
	cfg.HeldOutScore, cfg.CheckpointEvery = byWeights, 1
	cfg.CheckpointDir = filepath.Join(t.TempDir(), "full")
	want, err := Train(newTinyLM(t, 3), demos, held, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.CheckpointDir = filepath.Join(t.TempDir(), "resumed")
	var resumed *TrainResult
	for _, stop := range []int{5, 4, 0} {
		c := cfg
		c.StopAfterSteps = stop
		resumed, err = Train(newTinyLM(t, 3), demos, held, c, nil)
		if stop > 0 && !IsStopped(err) || stop == 0 && err != nil {
			t.Fatalf("stop after %d: %v", stop, err)
		}
	}
	if resumed.BestScoreEpoch != want.BestScoreEpoch || (resumed.BestScoreParams == nil) != (want.BestScoreParams == nil) {
		t.Fatalf("resumed best-scoring epoch %d, uninterrupted %d", resumed.BestScoreEpoch, want.BestScoreEpoch)
	}
	for name, w := range want.BestScoreParams {
		if !slices.Equal(resumed.BestScoreParams[name], w) {
			t.Fatalf("resumed best-scoring weights differ at %s", name)
		}
	}
}
