package main

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/study"
)

// TestReproduceSmoke runs every stage of `srppo reproduce` on a tiny world and a tiny model and
// checks that the tables have every row and column with numbers in range (not their values).
func TestReproduceSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("pipeline smoke test")
	}
	w := datasets.Lean()
	w.CorpusDocs, w.DemoSizes, w.HeldOutDemos, w.PromptPool, w.EvalPerSplit = 300, []int{16}, 16, 60, 12
	wd, err := w.Generate(3)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := wd.WriteDir(data); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	args := []string{"-data", data, "-out", out, "-budget", "smoke", "-layers", "1", "-d-model", "16", "-heads", "2", "-d-ff", "32"}
	run := func() {
		if code := dispatch(append([]string{"reproduce"}, args...), io.Discard, os.Stderr); code != 0 {
			t.Fatalf("reproduce exited %d", code)
		}
	}
	run()
	tb := readTables(t, out)
	splits := []string{"id", "ood_op", "ood_len"}
	wantT1 := []string{"N=16 PT zero-shot", "N=16 SFT", "N=16 SFT-long", "N=16 SRPPO-eos", "N=16 SRPPO-token", "N=16 oracle-PPO"}
	checkRows(t, "T1", tb.T1, wantT1, append(suffix(splits, " EM"), "EOS %", "length"))
	checkRows(t, "T2", tb.T2, []string{"eos", "eos_mean", "logp_sft", "oracle", "token", "token whitened", "token λ=1", "zero"},
		[]string{"len@0", "trunc%@0", "EOS%@0", "len@1", "KL", "reward", "id EM"})
	checkRows(t, "T3", tb.T3, []string{"N=16 id", "N=16 ood_op", "N=16 ood_len"}, []string{"pass@1", "pass@2", "best-of-2 by r", "pairwise acc", "Δ content", "Δ EOS"})
	checkRows(t, "T4", tb.T4, []string{"pool: SFT prompts", "pool: new id", "pool: id+ood"}, suffix(splits, " EM"))
	checkRows(t, "T5", tb.T5, []string{"eos", "logp_sft", "oracle", "zero"}, []string{"reward", "KL"})
	for _, table := range [][]study.Row{tb.T1, tb.T3, tb.T4} {
		for _, r := range table {
			for col, c := range r.Cells {
				rate := strings.Contains(col, "EM") || strings.HasPrefix(col, "pass") || strings.HasPrefix(col, "best") || col == "pairwise acc"
				m := float64(c.Mean)
				if rate && !math.IsNaN(m) && (m < 0 || m > 1 || len(c.All) != 2) {
					t.Errorf("%s / %s = %+v: want a rate in [0,1] over 2 seeds", r.Name, col, c)
				}
				if col == "EOS %" && (m < 0 || m > 100) {
					t.Errorf("%s / EOS %% = %v", r.Name, c.Mean)
				}
			}
		}
	}
	md, err := os.ReadFile(filepath.Join(out, "tables.md"))
	if err != nil || !strings.Contains(string(md), "## T1 — main results") || !strings.Contains(string(md), "## T5 — reward ablation") {
		t.Errorf("tables.md incomplete: %v", err)
	}
	// RESULTS.md has both criteria, the discussion and a link to every figure, each a PNG on disk.
	res, err := os.ReadFile(filepath.Join(out, study.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"**(a)**", "**(b)**", "## Discussion", "## Tables", "## T1 — main results", "![t1_N16](figures/t1_N16.png)", "![t3_N16](figures/t3_N16.png)",
		"![t2_mean_length](figures/t2_mean_length.png)", "![t4_pools](figures/t4_pools.png)", "![token_vs_eos/token_rewards](figures/token_vs_eos/token_rewards.png)"} {
		if !strings.Contains(string(res), want) {
			t.Errorf("RESULTS.md lacks %q", want)
		}
	}
	links := regexp.MustCompile(`\]\((figures/[^)]+)\)`).FindAllStringSubmatch(string(res), -1)
	for _, l := range links {
		png, err := os.ReadFile(filepath.Join(out, l[1]))
		if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Errorf("figure %s: not a PNG (%v)", l[1], err)
		}
	}
	if len(links) < 8 {
		t.Errorf("RESULTS.md links %d figures, want every figure (≥ 8)", len(links))
	}
	// A second run finds every stage cached, gives the same tables and publishes RESULTS.md with
	// its figures into another directory.
	pub := filepath.Join(dir, "repo")
	args = append(args, "-publish", pub)
	run()
	published, err := os.ReadFile(filepath.Join(pub, "RESULTS_smoke.md"))
	if err != nil || !strings.Contains(string(published), "![t1_N16](results_smoke/t1_N16.png)") {
		t.Errorf("published RESULTS.md missing or not linking results/: %v", err)
	}
	// The same OUT with another iteration count is refused, not mixed into the tables.
	if code := dispatch(append([]string{"reproduce"}, append(args, "-iterations", "3")...), io.Discard, io.Discard); code == 0 {
		t.Error("a rerun with -iterations 3 on runs of 2 iterations was accepted")
	}
	// Both invocations are listed (the header and the tables name the command twice more).
	if n := strings.Count(string(published), "`srppo reproduce -data"); n != 4 {
		t.Errorf("published RESULTS.md names the command %d times, want the header, the tables and 2 invocations", n)
	}
	if _, err := os.Stat(filepath.Join(pub, "results_smoke", "t1_N16.png")); err != nil {
		t.Error(err)
	}
	tb2 := readTables(t, out)
	if len(tb2.T1) != len(tb.T1) || tb2.T1[3].Cells["id EM"].Mean != tb.T1[3].Cells["id EM"].Mean {
		t.Error("the cached rerun changed the tables")
	}
}

// readTables reads OUT/tables.json of a reproduce run.
func readTables(t *testing.T, out string) study.Tables {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(out, "tables.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tb study.Tables
	if err := json.Unmarshal(raw, &tb); err != nil {
		t.Fatal(err)
	}
	return tb
}

func suffix(xs []string, s string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x + s
	}
	return out
}

func checkRows(t *testing.T, table string, rows []study.Row, names, cols []string) {
	t.Helper()
	got := map[string]study.Row{}
	for _, r := range rows {
		got[r.Name] = r
	}
	for _, n := range names {
		r, ok := got[n]
		if !ok {
			t.Errorf("%s: row %q missing (have %d rows)", table, n, len(rows))
			continue
		}
		for _, c := range cols {
			if _, ok := r.Cells[c]; !ok {
				t.Errorf("%s: row %q has no column %q (has %v)", table, n, c, r.Order)
			}
		}
	}
}

// TestReproduceOwnData runs the smoke budget on a data directory that is not the built-in world:
// its own vocabulary, tasks and split names, no world.json and no tokenizer.json. The tables must
// come out with the eval file's splits as columns.
func TestReproduceOwnData(t *testing.T) {
	if testing.Short() {
		t.Skip("pipeline smoke test")
	}
	data := t.TempDir()
	words := []string{"red", "green", "blue", "cat", "dog", "owl", "sun", "moon"}
	word := func(i int) string { return words[i%len(words)] }
	var corpus, demos, held, prompts, eval []string
	jl := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	for i := range 200 {
		corpus = append(corpus, jl(datasets.Doc{Text: "copy " + word(i) + " " + word(i*3+1) + " gives " + word(i) + " " + word(i*3+1)}))
	}
	task := func(i int, verb string) (string, string) {
		a, b := word(i), word(i*5+2)
		if verb == "swap" {
			return "swap " + a + " " + b, b + " " + a
		}
		return "copy " + a + " " + b, a + " " + b
	}
	for i := range 16 {
		p, r := task(i, "copy")
		demos = append(demos, jl(datasets.Demo{Prompt: p, Response: r}))
		p, r = task(i+16, "copy")
		held = append(held, jl(datasets.Demo{Prompt: p, Response: r}))
	}
	for i := range 20 {
		p, _ := task(i+40, "copy")
		prompts = append(prompts, jl(datasets.Prompt{Prompt: p, Split: "seen"}))
	}
	for i := range 6 {
		p, a := task(i+60, "copy")
		eval = append(eval, jl(datasets.EvalItem{Prompt: p, Answer: a, Split: "seen"}))
		p, a = task(i+70, "swap")
		eval = append(eval, jl(datasets.EvalItem{Prompt: p, Answer: a, Split: "novel_task"}))
	}
	for name, lines := range map[string][]string{datasets.CorpusFile: corpus, datasets.DemosFile(16): demos, datasets.HeldOutFile: held,
		datasets.PromptsFile: prompts, datasets.EvalFile: eval} {
		if err := os.WriteFile(filepath.Join(data, name), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "out")
	args := []string{"reproduce", "-data", data, "-out", out, "-budget", "smoke", "-layers", "1", "-d-model", "16", "-heads", "2", "-d-ff", "32"}
	if code := dispatch(args, io.Discard, os.Stderr); code != 0 {
		t.Fatalf("reproduce on own data exited %d", code)
	}
	tb := readTables(t, out)
	checkRows(t, "T1", tb.T1, []string{"N=16 SFT", "N=16 SRPPO-eos", "N=16 SRPPO-token"}, []string{"seen EM", "novel_task EM", "EOS %", "length"})
	checkRows(t, "T3", tb.T3, []string{"N=16 seen", "N=16 novel_task"}, []string{"pass@1", "pairwise acc"})
	// prompts.jsonl has no answers here, so oracle-PPO cannot run: its cells are undefined, not 0.
	for _, r := range tb.T1 {
		if r.Name == "N=16 oracle-PPO" {
			if c := r.Cells["seen EM"]; !math.IsNaN(float64(c.Mean)) {
				t.Errorf("oracle-PPO without gold answers: seen EM %v, want undefined", c.Mean)
			}
		}
	}
	res, err := os.ReadFile(filepath.Join(out, study.ResultsFile))
	if err != nil || !strings.Contains(string(res), "novel_task") {
		t.Errorf("RESULTS.md does not use the data's split names: %v", err)
	}

	// A tokenizer.json that lacks a word the files use: reproduce names the first file and line
	// that uses it before any stage runs.
	bad := t.TempDir()
	for _, name := range []string{datasets.CorpusFile, datasets.DemosFile(16), datasets.HeldOutFile, datasets.PromptsFile, datasets.EvalFile} {
		b, err := os.ReadFile(filepath.Join(data, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bad, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	known := []string{"copy", "swap", "gives"}
	for _, w := range words {
		if w != "owl" {
			known = append(known, w)
		}
	}
	if err := datasets.NewTokenizer(known).Save(filepath.Join(bad, datasets.TokenizerFile)); err != nil {
		t.Fatal(err)
	}
	badOut := filepath.Join(t.TempDir(), "out")
	var stderr strings.Builder
	if code := dispatch([]string{"reproduce", "-data", bad, "-out", badOut, "-budget", "smoke"}, io.Discard, &stderr); code == 0 ||
		!strings.Contains(stderr.String(), datasets.EvalFile+":") || !strings.Contains(stderr.String(), `unknown word "owl"`) {
		t.Errorf("reproduce with a word outside tokenizer.json: exit %d, stderr %q", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(badOut, "sft")); err == nil {
		t.Error("a stage ran before the bad line was reported")
	}
}
