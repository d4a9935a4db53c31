package study

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/srppo"
)

// tinyNotebook is a notebook small enough for unit tests: a 40-document world and a one-layer
// d=16 model, in a fresh work directory.
func tinyNotebook(t *testing.T) *Notebook {
	t.Helper()
	t.Setenv(NotebookWorkEnv, t.TempDir())
	nb := NewNotebook(false)
	nb.Log = &bytes.Buffer{}
	nb.World.CorpusDocs, nb.World.PromptPool, nb.World.EvalPerSplit, nb.World.HeldOutDemos = 40, 30, 6, 8
	nb.Model.DModel, nb.Model.Layers, nb.Model.Heads, nb.Model.DFF = 16, 1, 2, 32
	nb.Pretrain.BatchRows, nb.Pretrain.Optim.WarmupSteps = 8, 1
	nb.SFT.Epochs, nb.SFT.BatchRows, nb.SFT.Optim.WarmupSteps = 3, 4, 1
	nb.PPO.Prompts, nb.PPO.Samples, nb.PPO.MaxNew, nb.PPO.Minibatch, nb.PPO.Epochs, nb.PPO.ScoreBatch = 4, 2, 4, 8, 1, 8
	nb.Iterations, nb.EvalPerSplit, nb.EvalEvery = 2, 3, 1
	return nb
}

func mustParams(t *testing.T, m *srppo.LM) map[string][]float32 {
	t.Helper()
	p, err := m.Params()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewNotebookScales(t *testing.T) {
	t.Setenv(NotebookWorkEnv, "")
	small, full := NewNotebook(false), NewNotebook(true)
	if small.Dir != filepath.Join(".work", "small") || full.Dir != filepath.Join(".work", "full") {
		t.Errorf("dirs %q %q", small.Dir, full.Dir)
	}
	if !full.Full || small.Full || !reflect.DeepEqual(full.World, datasets.Lean()) || full.Model != srppo.DefaultConfig(0) {
		t.Errorf("full is not the design's lean world and 2×128 model: %+v", full)
	}
	if full.PPO != srppo.DefaultPPOConfig(srppo.PlaceEOS) || full.Iterations != 200 {
		t.Errorf("full PPO %+v, %d iterations", full.PPO, full.Iterations)
	}
	for _, nb := range []*Notebook{small, full} {
		if err := nb.World.Validate(); err != nil {
			t.Errorf("full=%v: %v", nb.Full, err)
		}
		cfg := nb.Model
		cfg.VocabSize = 30
		if err := cfg.Validate(); err != nil {
			t.Errorf("full=%v: %v", nb.Full, err)
		}
		if err := nb.PPO.Validate(); err != nil {
			t.Errorf("full=%v: %v", nb.Full, err)
		}
		for _, n := range append([]int{nb.Demos}, nb.DemoSizes...) {
			if !slices.Contains(nb.World.DemoSizes, n) {
				t.Errorf("full=%v: demo size %d is not one of the world's %v", nb.Full, n, nb.World.DemoSizes)
			}
		}
	}
	t.Setenv(NotebookWorkEnv, "/tmp/x")
	if d := NewNotebook(false).Dir; d != "/tmp/x/small" {
		t.Errorf("%s ignored: %s", NotebookWorkEnv, d)
	}
}

// TestNotebookStateOnDisk runs what the notebooks do, twice: the first time every Ensure…
// creates its files, the second time (as a later cell, a new process) it loads the same thing.
func TestNotebookStateOnDisk(t *testing.T) {
	nb := tinyNotebook(t)
	if err := nb.EnsureWorld(); err != nil {
		t.Fatal(err)
	}
	if err := nb.EnsureWorld(); err != nil {
		t.Fatalf("second EnsureWorld: %v", err)
	}
	changed := *nb
	changed.World.CorpusDocs++
	if err := changed.EnsureWorld(); err == nil || !strings.Contains(err.Error(), "delete "+nb.Dir) {
		t.Errorf("changed world knobs: error %v, want one that says to delete %s", err, nb.Dir)
	}
	items, err := nb.EvalItems()
	if err != nil || len(items) != 3*nb.EvalPerSplit {
		t.Fatalf("eval items: %d, %v", len(items), err)
	}
	pool, err := nb.PromptPool()
	if err != nil || len(pool) != nb.World.PromptPool {
		t.Fatalf("pool: %d, %v", len(pool), err)
	}
	for _, p := range pool {
		if ans, _ := datasets.AnswerPrompt(p.Prompt); p.Answer == "" || p.Answer != ans || p.Split == "" {
			t.Fatalf("pool prompt %+v lacks its answer or split", p)
		}
	}

	pt, err := nb.EnsureBase()
	if err != nil {
		t.Fatal(err)
	}
	log, err := nb.BaseLog()
	if err != nil || len(log.Step) == 0 || len(log.Step) != len(log.Loss) || log.Result == nil || len(log.Result.Curve) != 1 {
		t.Fatalf("pretraining log %+v, %v", log, err)
	}
	pt2, err := nb.EnsureBase()
	if err != nil || !reflect.DeepEqual(mustParams(t, pt), mustParams(t, pt2)) {
		t.Fatalf("second EnsureBase does not load the same weights (%v)", err)
	}

	sft, sftLog, err := nb.EnsureSFT(16)
	if err != nil {
		t.Fatal(err)
	}
	if len(sftLog.Result.Curve) != nb.SFT.Epochs || sftLog.Demos != 16 {
		t.Errorf("SFT log: %d epochs, %d demos", len(sftLog.Result.Curve), sftLog.Demos)
	}
	sft2, sftLog2, err := nb.EnsureSFT(16)
	if err != nil || !reflect.DeepEqual(mustParams(t, sft), mustParams(t, sft2)) || !reflect.DeepEqual(sftLog.Step, sftLog2.Step) {
		t.Fatalf("second EnsureSFT does not load the same model and log (%v)", err)
	}
	if reflect.DeepEqual(mustParams(t, sft), mustParams(t, pt)) {
		t.Error("SFT did not change the weights")
	}
	if _, err := nb.LoadSFTLong(16); err != nil {
		t.Error(err)
	}
	if _, _, err := nb.EnsureSFT(17); err == nil {
		t.Error("SFT on a demo size the world does not have: no error")
	}

	cfg := nb.PPOConfig(srppo.PlaceToken)
	if cfg.Mode != srppo.PlaceToken || nb.RunDir("a", cfg) == nb.RunDir("a", nb.PPOConfig(srppo.PlaceEOS)) {
		t.Errorf("PPOConfig/RunDir: %+v %s", cfg, nb.RunDir("a", cfg))
	}
	run, err := nb.OpenPPO("token", cfg, sft)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := nb.RunPPO(run, nb.Iterations)
	if err != nil || len(ms) != nb.Iterations || ms[1].EvalEM == nil {
		t.Fatalf("RunPPO: %d metrics, %v", len(ms), err)
	}
	again, err := nb.OpenPPO("token", cfg, sft)
	if err != nil || again.Iteration != nb.Iterations {
		t.Fatalf("reopened run at iteration %d, %v", again.Iteration, err)
	}
	if ms2, err := nb.RunPPO(again, nb.Iterations); err != nil || !reflect.DeepEqual(ms, ms2) {
		t.Errorf("RunPPO on a finished run changed its metrics (%v)", err)
	}
	if p, err := nb.LoadPolicy("token", cfg); err != nil || !reflect.DeepEqual(mustParams(t, p), mustParams(t, again.Models.Policy)) {
		t.Errorf("LoadPolicy does not load the run's policy (%v)", err)
	}

	if out := nb.Log.(*bytes.Buffer).String(); !strings.Contains(out, "pretraining π_pt") || !strings.Contains(out, "SFT of π_pt on 16") || !strings.Contains(out, "iter") {
		t.Errorf("log lacks progress lines:\n%s", out)
	}
}

func TestPPOStepsStageByStage(t *testing.T) {
	nb := tinyNotebook(t)
	pt, err := nb.EnsureBase()
	if err != nil {
		t.Fatal(err)
	}
	sft, _, err := nb.EnsureSFT(16)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := nb.PromptPool()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(nb.Dir, "steps")
	cfg := nb.PPOConfig(srppo.PlaceEOS)
	var log bytes.Buffer
	open := func(cfg srppo.PPOConfig) *srppo.PPOSteps {
		t.Helper()
		s, err := srppo.OpenPPOSteps(dir, cfg, 7, sft, pt, pool)
		if err != nil {
			t.Fatal(err)
		}
		s.Log = &log
		return s
	}
	if s, err := nb.OpenSteps("steps", cfg); err != nil || s.Run.Dir != dir || s.Iteration() != 0 {
		t.Fatalf("OpenSteps: %v", err)
	}
	exists := func(name string) bool { _, err := os.Stat(filepath.Join(dir, name)); return err == nil }

	// Update first: the missing stages run implicitly.
	m, r, err := open(cfg).Update()
	if err != nil {
		t.Fatal(err)
	}
	if r.Iteration != 0 || m.Iteration != 0 || len(m.Sanity) != 0 || !strings.Contains(log.String(), "running the advantages stage first") {
		t.Fatalf("implicit stages: iteration %d, sanity %v, log %q", r.Iteration, m.Sanity, log.String())
	}
	s := open(cfg)
	if s.Iteration() != 1 {
		t.Fatalf("after one update the session is at iteration %d", s.Iteration())
	}

	// The rollout of an iteration is reproducible, and writing it drops the later stages' files.
	r1, err := s.Rollout()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Score(); err != nil {
		t.Fatal(err)
	}
	a1, err := s.Advantages()
	if err != nil {
		t.Fatal(err)
	}
	r2, err := open(cfg).Rollout()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r1, r2) || r1.Iteration != 1 {
		t.Error("re-running the rollout stage of the same iteration gave another rollout")
	}
	if exists(srppo.StepsScoredFile) || exists(srppo.StepsAdvantagesFile) {
		t.Error("a new rollout left the old scored/advantages files")
	}

	// A knob changed for one stage: Advantages with λ = 0 reads the same scored rollout.
	s = open(cfg)
	if _, err := s.Score(); err != nil {
		t.Fatal(err)
	}
	cfg0 := cfg
	cfg0.Lambda = 0
	a0, err := open(cfg0).Advantages()
	if err != nil {
		t.Fatal(err)
	}
	if a0.Config.Lambda != 0 || !reflect.DeepEqual(a0.Rows[0].Rewards, a1.Rows[0].Rewards) || reflect.DeepEqual(a0.Rows[0].Advantages, a1.Rows[0].Advantages) {
		t.Error("Advantages with λ = 0: want the same rewards and other advantages")
	}
	// GAE with λ = 0 is the one-step TD error (before whitening): check the returns R = A + V.
	row := a0.Rows[0]
	for i := range row.Rewards {
		next := float32(0)
		if i+1 < len(row.Values) {
			next = row.Values[i+1]
		}
		if d := float64(row.Returns[i] - (row.Rewards[i] + next)); math.Abs(d) > 1e-5 {
			t.Fatalf("λ = 0 return at %d: %v, want r + V_next = %v", i, row.Returns[i], row.Rewards[i]+next)
		}
	}
	m, _, err = open(cfg0).Update()
	if err != nil || m.Iteration != 1 {
		t.Fatalf("update: %v, %v", m, err)
	}
	ms, err := srppo.ReadMetrics(dir)
	if err != nil || len(ms) != 2 {
		t.Fatalf("metrics.jsonl: %d lines, %v", len(ms), err)
	}
	// The session continues with the stored weights under any config.
	s = open(cfg)
	if s.Iteration() != 2 || s.Run.Config != cfg {
		t.Errorf("reopened at iteration %d with config %+v", s.Iteration(), s.Run.Config)
	}
	if m, _, err := s.Iterate(); err != nil || m.Iteration != 2 {
		t.Errorf("Iterate: %v, %v", m, err)
	}
}

func TestScoreResponses(t *testing.T) {
	nb := tinyNotebook(t)
	pt, err := nb.EnsureBase()
	if err != nil {
		t.Fatal(err)
	}
	sft, _, err := nb.EnsureSFT(16)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := srppo.ScoreResponses(sft, pt, []srppo.ResponseItem{
		{Prompt: "REV a b", Response: "b a", Answer: "b a"},
		{Prompt: "REV a b", Response: "a b <eos> c", Answer: "b a"},
		{Prompt: "MAX 1 2", Response: "2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0].Words, []string{"b", "a", "<eos>"}) || !slices.Equal(rows[1].Words, []string{"a", "b", "<eos>"}) {
		t.Errorf("words %q %q", rows[0].Words, rows[1].Words)
	}
	if !*rows[0].Correct || *rows[1].Correct || rows[2].Correct != nil {
		t.Error("Correct is wrong")
	}
	pairs := []srppo.Sequence{srppo.PairSequence(rows[0].PromptTokens, rows[0].Tokens)}
	want, err := srppo.ScoreModels([]*srppo.LM{sft, pt}, pairs, 4)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for i, d := range rows[0].Delta {
		if d != want[0][0][i]-want[1][0][i] || rows[0].LogpSFT[i] != want[0][0][i] {
			t.Fatalf("Δ_%d = %v, want %v", i, d, want[0][0][i]-want[1][0][i])
		}
		sum += float64(d)
	}
	if math.Abs(sum-rows[0].Coherent) > 1e-6 {
		t.Errorf("coherent %v, ΣΔ %v", rows[0].Coherent, sum)
	}
	rep := &srppo.EvalReport{Items: []srppo.ItemResult{{Item: datasets.EvalItem{Prompt: "REV a b", Answer: "b a"}, Response: "a <eos>"}}}
	if got := srppo.CompareWithGold(rep); !reflect.DeepEqual(got, []srppo.ResponseItem{{Prompt: "REV a b", Response: "b a", Answer: "b a"}, {Prompt: "REV a b", Response: "a <eos>", Answer: "b a"}}) {
		t.Errorf("CompareWithGold: %+v", got)
	}
	if _, err := srppo.ScoreResponses(sft, pt, []srppo.ResponseItem{{Prompt: "REV a", Response: "zzz"}}); err == nil {
		t.Error("unknown word: no error")
	}
}

func TestNotebookFormatting(t *testing.T) {
	g := func(name string, em float64) srppo.GroupStats {
		return srppo.GroupStats{Group: name, N: 10, EM: em, EOSRate: 1, MeanLen: 2}
	}
	rep := &srppo.EvalReport{Format: srppo.FormatChat, BySplit: []srppo.GroupStats{g("id", 0.5), g("ood_op", 0.25)}, Overall: g("all", 0.375),
		ByOp: []srppo.GroupStats{g("REV", 0.5)}, ByOpLen: []srppo.GroupStats{g("REV/2", 0.5), g("REV/5", 0.25)}}
	out := FormatEval(rep, true)
	for _, want := range []string{"ood_op", "0.250", "L=5", "REV"} {
		if !strings.Contains(out, want) {
			t.Errorf("FormatEval lacks %q:\n%s", want, out)
		}
	}
	ms := []srppo.Metrics{{Iteration: 0, Length: 2, EOSPct: 100}, {Iteration: 1, Length: 3, KL: 0.5, EvalEM: map[string]float64{"id": 0.5}}}
	ld := FormatLengthDynamics([]string{"eos", "token"}, [][]srppo.Metrics{ms, ms[:1]}, []int{0, 1, 9})
	if !strings.Contains(ld, "3.00 ± 0.00") || !strings.Contains(ld, "id 0.50 (iter 1)") || strings.Count(ld, "token") != 2 {
		t.Errorf("FormatLengthDynamics:\n%s", ld)
	}
	ok := true
	r := &srppo.Rollout{Stage: srppo.StageScored, Rows: []srppo.RolloutRow{{Prompt: "REV a b", Text: "b a <eos>", Tokens: []int32{1, 2, 3}, Correct: &ok, Coherent: 1.5, KL: []float32{0, 0, 0}, Rewards: []float32{0, 0, 1.5}}}}
	if out := FormatRollout(r, 0); !strings.Contains(out, "b a <eos>") || !strings.Contains(out, "1.50") || !strings.Contains(out, "yes") {
		t.Errorf("FormatRollout:\n%s", out)
	}
	if out := FormatMetrics(srppo.Metrics{UpdateStats: srppo.UpdateStats{FirstRatio: 1}}); !strings.Contains(out, "ok") {
		t.Errorf("FormatMetrics:\n%s", out)
	}
	if out := FormatMetrics(srppo.Metrics{Sanity: []string{"boom"}}); !strings.Contains(out, "SANITY FAILURES: boom") {
		t.Errorf("FormatMetrics:\n%s", out)
	}
	diag := FormatDiagnostics([]srppo.RewardDiagnostics{{Split: "ood_op", Items: 4, Pass1: 0.25, PassK: 0.5, BestOfK: 0.5, PairwiseAcc: srppo.Float(math.NaN()), K: 8}})
	if !strings.Contains(diag, "pass@8") || !strings.Contains(diag, "ood_op") || !strings.Contains(diag, "NaN") {
		t.Errorf("FormatDiagnostics:\n%s", diag)
	}
	w := datasets.Lean()
	w.CorpusDocs, w.PromptPool, w.EvalPerSplit, w.HeldOutDemos = 20, 9, 3, 4
	d, err := w.Generate(1)
	if err != nil {
		t.Fatal(err)
	}
	out = FormatWorld(d)
	for _, want := range []string{"vocabulary (30 words)", "corpus: 20 documents", "ood_len", "5–6", "demo:    <bos> <q>", "eval ood_op:"} {
		if !strings.Contains(out, want) {
			t.Errorf("FormatWorld lacks %q:\n%s", want, out)
		}
	}
}
