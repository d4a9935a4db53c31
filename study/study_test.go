package study

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/srppo"
)

// tinyWorkspace is a workspace on a small built-in world written as a data directory, with a
// one-layer d=16 π_pt pretrained from its corpus.
func tinyWorkspace(t *testing.T) Workspace {
	t.Helper()
	w := datasets.Lean()
	w.CorpusDocs, w.DemoSizes, w.HeldOutDemos, w.PromptPool, w.EvalPerSplit = 300, []int{16}, 16, 60, 12
	wd, err := w.Generate(3)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data-in")
	if err := wd.WriteDir(data); err != nil {
		t.Fatal(err)
	}
	shape := func(vocab int) srppo.Config {
		c := srppo.DefaultConfig(vocab)
		c.Layers, c.DModel, c.Heads, c.DFF = 1, 16, 2, 32
		return c
	}
	return Workspace{Dir: filepath.Join(dir, "out"), Data: data, ModelShape: shape, Command: "test", BudgetName: "smoke", Log: io.Discard}
}

func tablesJSON(t *testing.T, tb *Tables) string {
	t.Helper()
	// Only the tables: seconds, invocations and figures differ between invocations.
	data, err := json.Marshal([]any{tb.T0, tb.T1, tb.T2, tb.T3, tb.T4, tb.T5})
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestStagesThenReproduce runs the smoke budget stage by stage, as notebook 05 does one stage
// per cell (each cell a fresh Open), then the one-call Reproduce of `srppo reproduce` on the
// same workspace: the second finds every stage cached and gives identical tables.
func TestStagesThenReproduce(t *testing.T) {
	if testing.Short() {
		t.Skip("pipeline smoke test")
	}
	ws := tinyWorkspace(t)
	b, err := LookupBudget("smoke")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	open := func() *Study {
		s, err := Open(ctx, ws, b)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	n := b.Ns[0]
	for _, stage := range []func(s *Study) error{
		func(s *Study) error { return s.T0() },
		func(s *Study) error { return s.SFT(n) },
		func(s *Study) error { return s.T3(n) },
		func(s *Study) error { return s.PPO(n) },
	} {
		if err := stage(open()); err != nil {
			t.Fatal(err)
		}
	}
	s := open()
	for _, st := range s.Plan() {
		if !s.StageDone(st.Key) {
			t.Errorf("stage %s is not done after the stage calls", st.Key)
		}
	}
	if err := s.T0(); err != nil {
		t.Fatal(err)
	}
	if err := s.RunN(n); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	staged := tablesJSON(t, s.Tables())
	a, bb := Criteria(s.Tables())
	if a.Measured || !bb.Measured {
		t.Errorf("smoke at N = 16 only: (a) measured %v (want not), (b) measured %v (want measured)", a.Measured, bb.Measured)
	}
	if out := FormatCriteria(s.Tables()); !strings.Contains(out, "(a) ") || !strings.Contains(out, "(b) ") {
		t.Errorf("FormatCriteria lacks a criterion:\n%s", out)
	}
	tb, err := Reproduce(ctx, ws, b)
	if err != nil {
		t.Fatal(err)
	}
	if got := tablesJSON(t, tb); got != staged {
		t.Errorf("Reproduce on the staged workspace gave other tables:\n%s\nwant\n%s", got, staged)
	}
	if len(tb.Invocations) != 6 {
		t.Errorf("OUT/invocations lists %d invocations, want 6 (5 opens and Reproduce)", len(tb.Invocations))
	}
}

// TestOldNotebookLayoutRefused: a notebook work directory of the old layout is refused with a
// message naming what to delete, before any work.
func TestOldNotebookLayoutRefused(t *testing.T) {
	dir := t.TempDir()
	if err := srppo.WriteJSON(filepath.Join(dir, "sft_64", "sft.json"), map[string]int{}); err != nil {
		t.Fatal(err)
	}
	b, _ := LookupBudget("smoke")
	_, err := Open(context.Background(), Workspace{Dir: dir, Log: io.Discard}, b)
	if err == nil || !strings.Contains(err.Error(), "old work layout") || !strings.Contains(err.Error(), "sft_64") {
		t.Errorf("old layout: %v, want a refusal naming sft_64", err)
	}
}

// TestBudgets: every named budget is valid, and the fields the command line and the notebooks
// once set differently are explicit.
func TestBudgets(t *testing.T) {
	for _, name := range BudgetNames() {
		b, err := LookupBudget(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := LookupBudget("nope"); err == nil || !strings.Contains(err.Error(), "grid") {
		t.Errorf("unknown budget: %v, want the list of names", err)
	}
	b, _ := LookupBudget("grid")
	b.Ns[0] = 7
	if again, _ := LookupBudget("grid"); again.Ns[0] == 7 {
		t.Error("LookupBudget shares its slices with Budgets")
	}
	if b := Budgets["grid"].WithIterations(40); b.Iterations != 40 || b.T2At[len(b.T2At)-1] != 39 {
		t.Errorf("WithIterations(40): %+v", b)
	}
}

// TestProgressETA: stages left are estimated by the mean time of computed stages of their kind,
// so a long SFT stage does not inflate the estimate of the evaluations after it.
func TestProgressETA(t *testing.T) {
	var log strings.Builder
	s := &Study{ws: Workspace{Dir: t.TempDir(), Log: &log}}
	plan := []Stage{{Key: "sft-N1-s1"}, {Key: "eval-sft-N1-s1"}, {Key: "eval-sftlong-N1-s1"}, {Key: "sft-N1-s2"}, {Key: "eval-sft-N1-s2"}}
	p := newProgress(s, plan)
	p.begin("sft-N1-s1")
	p.end("sft-N1-s1", 100)
	p.begin("eval-sft-N1-s1")
	p.end("eval-sft-N1-s1", 2)
	log.Reset()
	p.begin("eval-sftlong-N1-s1")
	// Left after this stage: one sft (100 s) and one eval (2 s).
	if !strings.Contains(log.String(), "stage 3/5 eval-sftlong-N1-s1 (ETA 1m42s after this stage)") {
		t.Errorf("progress line %q, want stage 3/5 with ETA 1m42s", log.String())
	}
}

// A workspace remembers the budget its stages were computed with (OUT/budget.json): a later
// invocation with other settings is refused before any work, while more seeds or another
// iteration count (checked per PPO run) are not budget changes.
func TestChangedBudgetRefused(t *testing.T) {
	ws := tinyWorkspace(t)
	b, err := LookupBudget("smoke")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := Open(ctx, ws, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SweepRuns(AxisBeta); err == nil || !strings.Contains(err.Error(), `budget "smoke" is not a sweep`) {
		t.Errorf("a sweep call on the smoke study: err = %v", err)
	}
	more := b.WithIterations(5)
	more.Seeds = 3
	if _, err := Open(ctx, ws, more); err != nil {
		t.Fatalf("more seeds and iterations refused: %v", err)
	}
	changed := b
	changed.EvalPerSplit = 7
	_, err = Open(ctx, ws, changed)
	if err == nil || !strings.Contains(err.Error(), "eval_per_split: stored 6, now 7") {
		t.Fatalf("changed eval_per_split: err = %v", err)
	}
	sweep, _ := LookupBudget("sweep-small")
	if _, err := Open(ctx, ws, sweep); err == nil || !strings.Contains(err.Error(), "sweep") {
		t.Fatalf("a sweep on a grid workspace: err = %v", err)
	}
}
