package srppo

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gosrppo/gosrppo/datasets"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// TestGAEHandWorked checks GAE on rewards [0.5, −1, 2, 0, 1] and values [1, 0.5, −0.5, 2, 0.25]
// (γ = 1) against values worked out by hand:
//
//	δ = r_t + V_{t+1} − V_t = [0, −2, 4.5, −1.75, 0.75]
//	λ = 0:    A = δ
//	λ = 1:    A_t = Σ_{k≥t} r_k − V_t = [1.5, 1.5, 3.5, −1, 0.75]
//	λ = 0.95: A_4 = 0.75, A_3 = −1.75 + 0.95·0.75 = −1.0375, A_2 = 4.5 − 0.95·1.0375 = 3.514375,
//	          A_1 = −2 + 0.95·3.514375 = 1.33865625, A_0 = 0.95·1.33865625 = 1.2717234375
func TestGAEHandWorked(t *testing.T) {
	r := []float32{0.5, -1, 2, 0, 1}
	v := []float32{1, 0.5, -0.5, 2, 0.25}
	cases := []struct {
		lambda float64
		want   []float64
	}{
		{0, []float64{0, -2, 4.5, -1.75, 0.75}},
		{1, []float64{1.5, 1.5, 3.5, -1, 0.75}},
		{0.95, []float64{1.2717234375, 1.33865625, 3.514375, -1.0375, 0.75}},
	}
	for _, c := range cases {
		adv, ret := GAE(r, v, 1, c.lambda)
		for i := range c.want {
			if !near(float64(adv[i]), c.want[i], 1e-5) || !near(float64(ret[i]), c.want[i]+float64(v[i]), 1e-5) {
				t.Errorf("λ=%v t=%d: A=%v R=%v, want A=%v R=%v", c.lambda, i, adv[i], ret[i], c.want[i], c.want[i]+float64(v[i]))
			}
		}
	}
	// γ = 0.5, λ = 1: A_t = Σ_k 0.5^(k−t) r_k − V_t.
	adv, _ := GAE(r, v, 0.5, 1)
	want0 := 0.5 + 0.5*(-1) + 0.25*2 + 0 + 0.0625*1 - 1
	if !near(float64(adv[0]), want0, 1e-6) {
		t.Errorf("γ=0.5: A_0 = %v, want %v", adv[0], want0)
	}
}

// TestUndiscountedReturnSameForEOSAndToken: with γ = 1 the return of the whole response is Σ Δ
// whether Δ sits on every token or all of it on the last one.
func TestUndiscountedReturnSameForEOSAndToken(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for trial := range 20 {
		n := 1 + rng.IntN(12)
		delta, values := make([]float32, n), make([]float32, n)
		for i := range delta {
			delta[i], values[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		for _, lambda := range []float64{0, 0.95, 1} {
			_, retEOS := GAE(PlaceEOSReward(delta), values, 1, lambda)
			_, retTok := GAE(PlaceTokenReward(delta), values, 1, lambda)
			sum := CoherentReward(delta)
			if lambda == 1 && (!near(float64(retEOS[0]), sum, 1e-4) || !near(float64(retTok[0]), sum, 1e-4)) {
				t.Errorf("trial %d: return eos %v token %v, Σ Δ %v", trial, retEOS[0], retTok[0], sum)
			}
		}
		// Sum of placed rewards (the undiscounted return) is identical.
		var se, st float64
		for i := range delta {
			se += float64(PlaceEOSReward(delta)[i])
			st += float64(PlaceTokenReward(delta)[i])
		}
		if !near(se, st, 1e-4) {
			t.Errorf("trial %d: Σ r eos %v, token %v", trial, se, st)
		}
	}
}

func TestPlacementModes(t *testing.T) {
	sft := []float32{-0.5, -1, -0.25}
	pt := []float32{-1.5, -1, -2.25}
	delta := CoherentDelta(sft, pt, 0) // [1, 0, 2]
	cases := []struct {
		mode    string
		correct bool
		want    []float32
	}{
		{PlaceEOS, false, []float32{0, 0, 3}},
		{PlaceToken, false, []float32{1, 0, 2}},
		{PlaceEOSMean, false, []float32{0, 0, 1}},
		{PlaceLogpSFT, false, []float32{0, 0, -1.75}},
		{PlaceOracle, true, []float32{0, 0, 1}},
		{PlaceOracle, false, []float32{0, 0, 0}},
		{PlaceZero, false, []float32{0, 0, 0}},
	}
	for _, c := range cases {
		got, err := PlaceReward(c.mode, delta, sft, c.correct)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s (correct %v): %v, %v; want %v", c.mode, c.correct, got, err, c.want)
		}
	}
	if _, err := PlaceReward("nope", delta, sft, false); err == nil {
		t.Error("unknown mode accepted")
	}
	if got := CoherentDelta(sft, pt, 1.5); !reflect.DeepEqual(got, []float32{1, 0, 1.5}) {
		t.Errorf("clipped Δ %v", got)
	}
}

func TestKLZeroWhenPolicyIsReference(t *testing.T) {
	lp := []float32{-0.1, -2.5, -0.7}
	for _, est := range []string{KLk1, KLk3} {
		kl, err := TokenKL(lp, lp, est)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range kl {
			if v != 0 {
				t.Errorf("%s: KL_%d = %v, want 0", est, i, v)
			}
		}
	}
	// k1 = log π − log π_ref; k3 = (ρ−1) − log ρ with log ρ = log π_ref − log π.
	kl1, _ := TokenKL([]float32{-1}, []float32{-2}, KLk1)
	kl3, _ := TokenKL([]float32{-1}, []float32{-2}, KLk3)
	if !near(float64(kl1[0]), 1, 1e-7) || !near(float64(kl3[0]), math.Exp(-1)-1+1, 1e-6) {
		t.Errorf("k1 %v (want 1), k3 %v (want e⁻¹)", kl1[0], kl3[0])
	}
}

func TestWhitenUsesRealTokensOnly(t *testing.T) {
	rows := [][]float32{{1, 2, 3}, {4}, {}}
	mean, std := Whiten(rows, true)
	if !near(mean, 2.5, 1e-9) || !near(std, math.Sqrt(1.25), 1e-9) {
		t.Fatalf("mean %v std %v, want 2.5 and √1.25", mean, std)
	}
	want := []float64{-1.5, -0.5, 0.5, 1.5}
	got := []float32{rows[0][0], rows[0][1], rows[0][2], rows[1][0]}
	for i := range want {
		if !near(float64(got[i]), want[i]/math.Sqrt(1.25), 1e-6) {
			t.Errorf("whitened %v", got)
		}
	}
}

// surrogateFn evaluates ClippedSurrogate and its gradient with respect to logp.
func surrogateFn(t *testing.T) func(logp, old, adv, mask []float32) (float64, []float32, float64) {
	backend, err := Backend()
	if err != nil {
		t.Fatal(err)
	}
	e := MustNewExec(backend, func(logp, old, adv, mask *Node) (*Node, *Node, *Node) {
		loss, clipFrac, _, _ := ClippedSurrogate(logp, old, adv, mask, 0.2)
		return loss, Gradient(loss, logp)[0], clipFrac
	})
	return func(logp, old, adv, mask []float32) (float64, []float32, float64) {
		out := e.MustCall(logp, old, adv, mask)
		return float64(tensors.ToScalar[float32](out[0])), tensors.MustCopyFlatData[float32](out[1]), float64(tensors.ToScalar[float32](out[2]))
	}
}

func TestClippedSurrogateAndGradient(t *testing.T) {
	f := surrogateFn(t)
	// Ratios e^(logp−old): 1.1 (inside), 1.5 (clipped for A>0), 0.6 (clipped for A<0), 0.6 with A>0
	// (unclipped branch is smaller), and a padded position with garbage.
	old := []float32{-1, -1, -1, -1, 0}
	logp := []float32{float32(math.Log(1.1)) - 1, float32(math.Log(1.5)) - 1, float32(math.Log(0.6)) - 1, float32(math.Log(0.6)) - 1, 5}
	adv := []float32{2, 1, -1, 3, 100}
	mask := []float32{1, 1, 1, 1, 0}
	loss, grad, clipFrac := f(logp, old, adv, mask)
	// min(ρA, clip(ρ)A): 2.2, 1.2, −0.8, 1.8 → loss = −(2.2+1.2−0.8+1.8)/4 = −1.1
	if !near(loss, -1.1, 1e-5) {
		t.Errorf("loss %v, want −1.1", loss)
	}
	if !near(clipFrac, 0.75, 1e-6) {
		t.Errorf("clip fraction %v, want 0.75 (three of four ratios outside [0.8, 1.2])", clipFrac)
	}
	// Finite differences of the loss in each logp.
	const h = 1e-3
	for i := range logp {
		up, down := append([]float32(nil), logp...), append([]float32(nil), logp...)
		up[i] += h
		down[i] -= h
		lu, _, _ := f(up, old, adv, mask)
		ld, _, _ := f(down, old, adv, mask)
		fd := (lu - ld) / (2 * h)
		if !near(float64(grad[i]), fd, 2e-3) {
			t.Errorf("∂L/∂logp_%d = %v, finite difference %v", i, grad[i], fd)
		}
	}
	// Analytically: −ρA/4 where unclipped wins, 0 where clipped, 0 on padding.
	wantGrad := []float64{-1.1 * 2 / 4, 0, 0, -0.6 * 3 / 4, 0}
	for i := range wantGrad {
		if !near(float64(grad[i]), wantGrad[i], 1e-5) {
			t.Errorf("gradient %d = %v, want %v", i, grad[i], wantGrad[i])
		}
	}
	// Padding content never matters.
	logp[4], adv[4] = -30, -7
	if l2, _, _ := f(logp, old, adv, mask); l2 != loss {
		t.Errorf("changing a padded position changed the loss: %v → %v", loss, l2)
	}
}

func TestClippedValueLoss(t *testing.T) {
	backend, _ := Backend()
	e := MustNewExec(backend, func(v, old, ret, mask *Node) *Node { return ClippedValueLoss(v, old, ret, mask, 0.2) })
	// V=1, V_old=0.5, R=2: unclipped (1−2)²=1, clipped (0.7−2)²=1.69 → max 1.69.
	// V=0, V_old=0, R=0.1: 0.01 both. Padded position ignored. L = ½·(1.69+0.01)/2 = 0.425.
	out := e.MustCall([]float32{1, 0, 9}, []float32{0.5, 0, 0}, []float32{2, 0.1, -9}, []float32{1, 1, 0})
	if got := float64(tensors.ToScalar[float32](out[0])); !near(got, 0.425, 1e-6) {
		t.Errorf("value loss %v, want 0.425", got)
	}
}

// tinyPPOSetup returns a weak SFT model of the successor task "<q> x <a>" → "x+1 <eos>" over the
// letters a–f (briefly trained, so it has headroom), its base, and the prompt pool with answers.
func tinyPPOSetup(t *testing.T) (sft, pt *LM, pool []PromptSource) {
	t.Helper()
	pt = newTinyLM(t, 21)
	sft, _ = pt.Clone()
	words := tinyTokenizer().Words()
	var demos []Sequence
	for i := range 6 {
		x, y := int32(5+i), int32(5+(i+1)%6)
		demos = append(demos, PairSequence([]int32{datasets.BOSID, datasets.QID, x, datasets.AID}, []int32{y, datasets.EOSID}))
		pool = append(pool, PromptSource{Prompt: words[x], Split: "id", Answer: words[y]})
	}
	cfg := tinyTrainConfig()
	cfg.Epochs, cfg.BatchRows, cfg.Optim.LR = 12, 1, 1e-2
	if _, err := Train(sft, demos, nil, cfg, nil); err != nil {
		t.Fatal(err)
	}
	return sft, pt, pool
}

// tinyRollout starts an eos-placement PPO run on tinyPPOSetup's models with prompts × 2 samples
// per rollout and samples its first rollout.
func tinyRollout(t *testing.T, prompts, minibatch, scoreBatch int) (*PPORun, *Rollout) {
	t.Helper()
	sft, pt, pool := tinyPPOSetup(t)
	cfg := DefaultPPOConfig(PlaceEOS)
	cfg.Prompts, cfg.Samples, cfg.MaxNew, cfg.Minibatch, cfg.ScoreBatch = prompts, 2, 4, minibatch, scoreBatch
	run, err := NewPPORun(t.TempDir(), cfg, 1, sft, pt, pool)
	if err != nil {
		t.Fatal(err)
	}
	r, err := SampleRollout(run.Models.Policy, run.DrawPrompts(), cfg, 0, run.rng)
	if err != nil {
		t.Fatal(err)
	}
	return run, r
}

func TestRolloutStagesSerialiseAndFirstRatioIsOne(t *testing.T) {
	run, r := tinyRollout(t, 8, 8, 16)
	path := filepath.Join(t.TempDir(), "r.json")
	for _, stage := range []func(*Rollout) error{func(r *Rollout) error { return Score(r, run.Models) }, Advantages} {
		if err := r.Save(path); err != nil {
			t.Fatal(err)
		}
		back, err := LoadRollout(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, r) {
			t.Fatalf("rollout at stage %s changed through save/load", r.Stage)
		}
		r = back // continue from the loaded copy, as a new process would
		if err := stage(r); err != nil {
			t.Fatal(err)
		}
	}
	excluded := run.Models.Policy.NonResponseIDs()
	if len(excluded) == 0 {
		t.Fatal("the tiny policy has no tokenizer restriction; the response check below would be vacuous")
	}
	for _, row := range r.Rows {
		for i, tok := range row.Tokens {
			if slices.Contains(excluded, tok) {
				t.Fatalf("row %q: sampled non-response token %d", row.Text, tok)
			}
			// Policy = reference at iteration 0: KL is exactly 0 and recomputed log-probs match.
			if math.Abs(float64(row.KL[i])) > 1e-5 || math.Abs(float64(row.LogpPolicy[i]-row.LogpOld[i])) > 1e-5 {
				t.Fatalf("row %q: KL %v, logp policy %v vs sampled %v", row.Text, row.KL, row.LogpPolicy, row.LogpOld)
			}
		}
	}
	up, err := Update(r, run.Models, run.rng)
	if err != nil {
		t.Fatal(err)
	}
	if !near(up.FirstRatio, 1, 1e-6) || !near(up.FirstKL, 0, 1e-6) {
		t.Errorf("first minibatch ratio %v approx-KL %v, want 1 and 0", up.FirstRatio, up.FirstKL)
	}
	if m := RolloutMetrics(r, up); len(m.Sanity) != 0 {
		t.Errorf("sanity failures: %v", m.Sanity)
	}
}

// TestOracleRewardRaisesExactMatch runs PPO with the oracle reward on a tiny model and checks that
// the rollouts' exact-match rate goes up (mean of the last five iterations against the first
// five) and greedy exact match does not fall: the loop learns.
func TestOracleRewardRaisesExactMatch(t *testing.T) {
	sft, pt, pool := tinyPPOSetup(t)
	var items []datasets.EvalItem
	for _, p := range pool {
		items = append(items, datasets.EvalItem{Prompt: p.Prompt, Answer: p.Answer, Split: "id"})
	}
	em := func(m *LM) float64 {
		rep, err := Evaluate(m, items, EvalConfig{Format: FormatChat, MaxNew: 4, BatchRows: 8})
		if err != nil {
			t.Fatal(err)
		}
		return rep.Overall.EM
	}
	before := em(sft)
	cfg := DefaultPPOConfig(PlaceOracle)
	cfg.Prompts, cfg.Samples, cfg.MaxNew, cfg.Minibatch, cfg.ScoreBatch = 6, 8, 4, 16, 64
	cfg.ActorLR, cfg.CriticLR, cfg.KLBeta, cfg.Epochs = 2e-3, 3e-3, 0.01, 4
	run, err := NewPPORun(t.TempDir(), cfg, 2, sft, pt, pool)
	if err != nil {
		t.Fatal(err)
	}
	const iters = 30
	var correct []float64
	for range iters {
		m, _, err := run.Iterate()
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Sanity) > 0 {
			t.Fatalf("iteration %d sanity: %v", m.Iteration, m.Sanity)
		}
		correct = append(correct, float64(m.Correct))
	}
	first, _ := meanStd(correct[:5])
	last, _ := meanStd(correct[iters-5:])
	after := em(run.Models.Policy)
	t.Logf("rollout exact match %.0f%% → %.0f%%, greedy EM %.2f → %.2f", first, last, before, after)
	if last < first+15 || after < before {
		t.Errorf("oracle PPO did not learn: rollout exact match %.0f%% → %.0f%%, greedy EM %.2f → %.2f", first, last, before, after)
	}
}

func TestPPOResumeReplaysBitForBit(t *testing.T) {
	sft, pt, pool := tinyPPOSetup(t)
	cfg := DefaultPPOConfig(PlaceToken)
	cfg.Prompts, cfg.Samples, cfg.MaxNew, cfg.Minibatch, cfg.ScoreBatch, cfg.ActorLR = 4, 2, 4, 4, 8, 1e-3
	dir := t.TempDir()
	run, err := NewPPORun(dir, cfg, 3, sft, pt, pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := run.Iterate(); err != nil {
		t.Fatal(err)
	}
	// A resumption with another seed or config is refused, naming the fields and both values.
	other := cfg
	other.KLBeta = 0.5
	if _, err := NewPPORun(dir, other, 99, sft, pt, pool); err == nil || !strings.Contains(err.Error(), "(config.kl_beta: checkpoint 0.05, now 0.5; seed: checkpoint 3, now 99)") {
		t.Errorf("changed settings: %v", err)
	}
	// Two independent resumptions from the same checkpoint give identical iterations.
	var results []*Metrics
	var params []map[string][]float32
	for range 2 {
		r2, err := NewPPORun(dir+"/../"+filepath.Base(dir), cfg, 3, sft, pt, pool)
		if err != nil {
			t.Fatal(err)
		}
		if r2.Iteration != 1 {
			t.Fatalf("resumed at iteration %d, want 1", r2.Iteration)
		}
		r2.Dir = t.TempDir() // keep the original checkpoint for the second resumption
		m, _, err := r2.Iterate()
		if err != nil {
			t.Fatal(err)
		}
		m.Seconds = 0
		results = append(results, m)
		p, _ := r2.Models.Policy.Params()
		params = append(params, p)
	}
	if !reflect.DeepEqual(results[0], results[1]) || !reflect.DeepEqual(params[0], params[1]) {
		t.Errorf("two replays of iteration 1 differ:\n%+v\n%+v", results[0], results[1])
	}
	// And both equal the uninterrupted run.
	straight, err := NewPPORun(t.TempDir(), cfg, 3, sft, pt, pool)
	if err != nil {
		t.Fatal(err)
	}
	var m *Metrics
	for range 2 {
		if m, _, err = straight.Iterate(); err != nil {
			t.Fatal(err)
		}
	}
	m.Seconds = 0
	p, _ := straight.Models.Policy.Params()
	if !reflect.DeepEqual(m, results[0]) || !reflect.DeepEqual(p, params[0]) {
		t.Errorf("resumed iteration 1 differs from the uninterrupted run:\n%+v\n%+v", results[0], m)
	}
	ms, err := ReadMetrics(dir)
	if err != nil || len(ms) != 1 || ms[0].Iteration != 0 {
		t.Errorf("metrics.jsonl: %v, %v", ms, err)
	}
}

// TestScoreIndependentOfBatch scores one rollout in batches of 3 rows and in one batch larger
// than the rollout (which is then cut to the rollout's size): the log-probs and values agree.
func TestScoreIndependentOfBatch(t *testing.T) {
	sft, pt, pool := tinyPPOSetup(t)
	cfg := DefaultPPOConfig(PlaceEOS)
	cfg.Prompts, cfg.Samples, cfg.MaxNew, cfg.Minibatch = 6, 2, 4, 4
	run, err := NewPPORun(t.TempDir(), cfg, 1, sft, pt, pool)
	if err != nil {
		t.Fatal(err)
	}
	r, err := SampleRollout(run.Models.Policy, run.DrawPrompts(), cfg, 0, run.rng)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.batchRows(len(r.Rows)); got != len(r.Rows) {
		t.Errorf("batch for %d rows with ScoreBatch %d = %d, want the rollout's size", len(r.Rows), cfg.ScoreBatch, got)
	}
	small := *r
	small.Rows = slices.Clone(r.Rows)
	small.Config.ScoreBatch = 3
	if err := Score(r, run.Models); err != nil {
		t.Fatal(err)
	}
	if err := Score(&small, run.Models); err != nil {
		t.Fatal(err)
	}
	for i := range r.Rows {
		a, b := r.Rows[i], small.Rows[i]
		for t2 := range a.Tokens {
			if d := math.Abs(float64(a.LogpSFT[t2] - b.LogpSFT[t2])); d > 1e-5 {
				t.Fatalf("row %d token %d: log π_sft %v (batch %d) vs %v (batch 3)", i, t2, a.LogpSFT[t2], cfg.batchRows(len(r.Rows)), b.LogpSFT[t2])
			}
			if d := math.Abs(float64(a.Values[t2] - b.Values[t2])); d > 1e-5 {
				t.Fatalf("row %d token %d: value %v vs %v", i, t2, a.Values[t2], b.Values[t2])
			}
		}
	}
}

// TestScoreAppliesDeltaBaseline: with PPOConfig.DeltaBaseline b the EOS placement pays
// r − b·T while Delta and Coherent keep the raw coherent reward.
func TestScoreAppliesDeltaBaseline(t *testing.T) {
	run, r := tinyRollout(t, 4, 8, 8)
	path := filepath.Join(t.TempDir(), "r.json")
	if err := r.Save(path); err != nil {
		t.Fatal(err)
	}
	shaped, err := LoadRollout(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := Score(r, run.Models); err != nil {
		t.Fatal(err)
	}
	const b = 0.75
	shaped.Config.DeltaBaseline = b
	if err := Score(shaped, run.Models); err != nil {
		t.Fatal(err)
	}
	for i, row := range shaped.Rows {
		n := len(row.Tokens)
		if !slices.Equal(row.Delta, r.Rows[i].Delta) || row.Coherent != r.Rows[i].Coherent {
			t.Fatalf("row %d: the baseline changed the raw Δ or r", i)
		}
		if got, want := float64(row.Placed[n-1]), row.Coherent-b*float64(n); math.Abs(got-want) > 1e-4 {
			t.Errorf("row %d: EOS reward %v, want r − b·T = %v", i, got, want)
		}
	}
}

// TestTokenRewards checks r_t = −β·KL_t + placement(Δ)_t by hand: β = 0.1, KL = (1, −2, 0.5),
// eos placement of Δ = (0.2, 0.3, 0.5) puts 1.0 on the last token.
func TestTokenRewards(t *testing.T) {
	placed := PlaceEOSReward([]float32{0.2, 0.3, 0.5})
	got := TokenRewards([]float32{1, -2, 0.5}, placed, 0.1)
	want := []float64{-0.1, 0.2, 0.95}
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 1e-6 {
			t.Errorf("r_%d = %v, want %v", i, got[i], want[i])
		}
	}
}

// A critic learning rate of 1e6 makes the value loss explode while staying finite (issue 17:
// 3e23, exit 0); the run stops with a diagnosis naming the loss and the flag, and names no
// checkpoint directory that does not exist.
func TestPPOValueLossDivergenceStops(t *testing.T) {
	sft, pt, pool := tinyPPOSetup(t)
	cfg := DefaultPPOConfig(PlaceToken)
	cfg.Prompts, cfg.Samples, cfg.MaxNew, cfg.Minibatch, cfg.ScoreBatch, cfg.CriticLR = 4, 2, 4, 2, 8, 1e6
	dir := t.TempDir()
	run, err := NewPPORun(dir, cfg, 3, sft, pt, pool)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4 && err == nil; i++ {
		_, _, err = run.Iterate()
	}
	if !errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), "value loss") || !strings.Contains(err.Error(), "lower -critic-lr") {
		t.Fatalf("err = %v", err)
	}
	t.Logf("diagnosis: %v", err)
	ckpt := filepath.Join(dir, "checkpoint")
	if _, statErr := os.Stat(ckpt); statErr == nil && !strings.Contains(err.Error(), "is kept in "+ckpt) {
		t.Errorf("message %q does not name the existing checkpoint", err)
	} else if statErr != nil && !strings.Contains(err.Error(), "no checkpoint was written") {
		t.Errorf("message %q with no checkpoint written", err)
	}
}

// Non-finite weights after an update are never written over the last good PPO checkpoint.
func TestPPOCheckpointRefusesNonFiniteWeights(t *testing.T) {
	sft, pt, pool := tinyPPOSetup(t)
	cfg := DefaultPPOConfig(PlaceToken)
	cfg.Prompts, cfg.Samples, cfg.MaxNew, cfg.Minibatch, cfg.ScoreBatch = 4, 2, 4, 4, 8
	dir := t.TempDir()
	run, err := NewPPORun(dir, cfg, 3, sft, pt, pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := run.Iterate(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "checkpoint", "policy", WeightsFile))
	params, _ := run.Models.Policy.Params()
	params["ln_f.bias"][3] = float32(math.NaN())
	if err := run.Models.Policy.SetParams(params); err != nil {
		t.Fatal(err)
	}
	run.Iteration++
	err = run.Checkpoint()
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "policy's weights became non-finite in PPO iteration 1 (ln_f.bias[3])") || !strings.Contains(err.Error(), "is kept in "+filepath.Join(dir, "checkpoint")) {
		t.Fatalf("err = %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "checkpoint", "policy", WeightsFile))
	if !bytes.Equal(before, after) || len(before) == 0 {
		t.Error("the last good checkpoint was overwritten")
	}
}

// TestUpdateGraphInputs: the named inputs of the update graphs follow the batch tensors in the
// order Update passes them (batch, mask, old, target, learning rate).
func TestUpdateGraphInputs(t *testing.T) {
	bt := NewBatch(1, 1)
	if n := len(batchInputs(bt)); n != batchArity || inMask != batchArity || inResponse != batchArity-1 || inOldLogp != inMask+1 || inAdvantages != inMask+2 || inLR != inMask+3 || inOldValues != inOldLogp || inReturns != inAdvantages {
		t.Errorf("batch has %d tensors; inputs mask %d, old %d/%d, target %d/%d, lr %d", n, inMask, inOldLogp, inOldValues, inAdvantages, inReturns, inLR)
	}
}

// TestSideBySideIsExact runs two PPO iterations with the independent graphs side by side (the
// policy's and the critic's update steps, the models' scoring passes) and one after another:
// the metrics and both networks' weights agree bit for bit.
func TestSideBySideIsExact(t *testing.T) {
	sft, pt, pool := tinyPPOSetup(t)
	cfg := DefaultPPOConfig(PlaceEOS)
	cfg.Prompts, cfg.Samples, cfg.MaxNew, cfg.Minibatch, cfg.ScoreBatch, cfg.ActorLR = 4, 2, 4, 4, 8, 1e-3
	type outcome struct {
		metrics        []*Metrics
		policy, critic map[string][]float32
	}
	runOnce := func(parallel bool) outcome {
		sideBySide = parallel
		defer func() { sideBySide = true }()
		run, err := NewPPORun(t.TempDir(), cfg, 5, sft, pt, pool)
		if err != nil {
			t.Fatal(err)
		}
		var o outcome
		for range 2 {
			m, _, err := run.Iterate()
			if err != nil {
				t.Fatal(err)
			}
			m.Seconds = 0
			o.metrics = append(o.metrics, m)
		}
		if o.policy, err = run.Models.Policy.Params(); err != nil {
			t.Fatal(err)
		}
		if o.critic, err = run.Models.Critic.LM.Params(); err != nil {
			t.Fatal(err)
		}
		return o
	}
	parallel, sequential := runOnce(true), runOnce(false)
	if !reflect.DeepEqual(parallel.metrics, sequential.metrics) {
		t.Errorf("metrics differ:\nside by side %+v\none by one   %+v", parallel.metrics, sequential.metrics)
	}
	if !reflect.DeepEqual(parallel.policy, sequential.policy) || !reflect.DeepEqual(parallel.critic, sequential.critic) {
		t.Error("weights differ between side-by-side and one-by-one runs")
	}
}
