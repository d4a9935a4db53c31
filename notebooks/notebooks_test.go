// Package notebooks holds the GoNB notebooks of the SRPPO reproduction and their checker.
//
// TestNotebooks executes every notebook headlessly with the GoNB kernel (jupyter nbconvert
// --execute) and fails on an error output, a failed shell line, a PPO sanity failure, fewer
// figures than the notebook's story promises, or a run longer than its budget. It needs Jupyter
// and the GoNB kernel, so it is skipped unless NOTEBOOK_TESTS=1; `bash notebooks/check.sh`
// installs both and runs it. The other tests check the committed notebooks and the checker's own
// rules, and always run.
package notebooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// notebook is one notebook of the series with what its execution must show.
type notebook struct {
	File string
	// Figures is the number of image/png outputs its story promises, at least.
	Figures int
	// What lists the promised figures (for failure messages).
	What []string
	// Budget is the longest its execution may take with the small config on two cores. It guards
	// against a notebook outgrowing CI, not speed: on two cores shared with other builds (load
	// average about 12) notebook 05 took 360 s, about twice its time on a quiet machine.
	Budget time.Duration
	// Prints lists text its outputs must contain (notebook 05: both criteria with a verdict).
	Prints []string
}

// notebooks are executed in this order (each also runs on its own: it makes what it needs).
var notebooks = []notebook{
	{"01_world_and_pretraining.ipynb", 2, []string{"pretraining loss curves", "T0 bars by operation"}, 4 * time.Minute, nil},
	{"02_sft_and_token_rewards.ipynb", 3, []string{"SFT overfitting curve", "EM before/after SFT", "per-token reward Δ_t"}, 3 * time.Minute, nil},
	{"03_ppo_step_by_step.ipynb", 3, []string{"per-token reward of the scored rollout", "advantages per token", "PPO dashboard"}, 3 * time.Minute, nil},
	{"04_length_bias.ipynb", 4, []string{"length histograms", "mean length curves", "reward vs length", "eos vs token metrics"}, 3 * time.Minute, nil},
	{"05_reproduce.ipynb", 4, []string{"T1 grouped bars", "T3 bars", "T2 mean length curves", "token vs eos dashboard"}, 8 * time.Minute,
		[]string{"(a) SRPPO-eos beats SFT", "(b) `token` moves mean length", "## T0 — base-model probe", "## T1 — main results"}},
	{"06_mechanism_sweep.ipynb", 7, []string{"EM change per axis (β, shaping, SFT epoch, exposure)", "gain over β × chat exposure", "pairwise accuracy vs chat EM", "length runs"}, 7 * time.Minute,
		[]string{"(c) a configuration chosen on validation", "(d) some shaping keeps `eos`", "| π_pt variant |", "**1. KL coefficient β.**"}},
}

// totalBudget bounds the whole series.
const totalBudget = 25 * time.Minute

// budgetScale multiplies every budget by $NOTEBOOK_BUDGET_SCALE (e.g. 2 on a slower machine).
func budgetScale(t *testing.T) float64 {
	s := os.Getenv("NOTEBOOK_BUDGET_SCALE")
	if s == "" {
		return 1
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		t.Fatalf("NOTEBOOK_BUDGET_SCALE=%q: want a positive number", s)
	}
	return f
}

// WorkEnv is the notebooks' work directory variable (srppo.NotebookWorkEnv; not imported, so that
// this package stays free of the library's dependencies).
const workEnv = "GOSRPPO_NOTEBOOK_WORK"

func TestNotebooks(t *testing.T) {
	if os.Getenv("NOTEBOOK_TESTS") != "1" {
		t.Skip("set NOTEBOOK_TESTS=1 to execute the notebooks (bash notebooks/check.sh installs Jupyter and GoNB and does)")
	}
	nbconvert, err := exec.LookPath("jupyter-nbconvert")
	if err != nil {
		t.Fatalf("jupyter-nbconvert not found (bash notebooks/setup.sh installs it): %v", err)
	}
	if out, err := exec.Command("jupyter", "kernelspec", "list").CombinedOutput(); err != nil || !regexp.MustCompile(`(?m)^\s+gonb\s`).Match(out) {
		t.Fatalf("no gonb kernel in `jupyter kernelspec list` (bash notebooks/setup.sh installs it): %v\n%s", err, out)
	}
	outDir := os.Getenv("NOTEBOOK_OUT") // keep the executed notebooks there (for screenshots)
	if outDir == "" {
		outDir = t.TempDir()
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	work := os.Getenv(workEnv)
	if work == "" {
		work = t.TempDir() // fresh state: nothing from an earlier run is reused
	}
	scale := budgetScale(t)
	var total time.Duration
	var times []string
	for _, nb := range notebooks {
		nb.Budget = time.Duration(float64(nb.Budget) * scale)
		t.Run(strings.TrimSuffix(nb.File, ".ipynb"), func(t *testing.T) {
			executed := filepath.Join(outDir, nb.File)
			start := time.Now()
			log, err := execute(nbconvert, nb, executed, work, t.TempDir())
			elapsed := time.Since(start)
			total += elapsed
			times = append(times, fmt.Sprintf("%s %.0fs", nb.File, elapsed.Seconds()))
			t.Logf("%s: %.1f s (budget %s)", nb.File, elapsed.Seconds(), nb.Budget)
			if err != nil {
				t.Fatalf("nbconvert failed: %v\n%s", err, logTail(log, 40))
			}
			data, err := os.ReadFile(executed)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range checkExecuted(data, nb.Figures, nb.Prints...) {
				t.Error(p)
			}
			if t.Failed() {
				t.Logf("the promised figures: %s; executed notebook: %s", strings.Join(nb.What, ", "), executed)
			}
			if elapsed > nb.Budget {
				t.Errorf("took %.0f s, over its budget of %s", elapsed.Seconds(), nb.Budget)
			}
		})
	}
	limit := time.Duration(float64(totalBudget) * scale)
	t.Logf("wall times: %s; total %.0f s (budget %s)", strings.Join(times, ", "), total.Seconds(), limit)
	if total > limit {
		t.Errorf("the notebooks took %.0f s in total, over the budget of %s", total.Seconds(), limit)
	}
}

// execute runs one notebook with nbconvert (errors kept in the output notebook), killing it and
// its kernel some time after the budget (a quarter more, at least 30 s: a small overrun is
// reported with its time, a hang is cut). tmp is the run's own TMPDIR: GoNB's scratch module and
// the kernel's connection file go there, which is how a left-over kernel is found.
func execute(nbconvert string, nb notebook, executed, work, tmp string) ([]byte, error) {
	limit := nb.Budget + max(nb.Budget/4, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, nbconvert, "--to", "notebook", "--execute", "--allow-errors",
		"--ExecutePreprocessor.kernel_name=gonb",
		fmt.Sprintf("--ExecutePreprocessor.timeout=%d", int(limit.Seconds())),
		"--output-dir", filepath.Dir(executed), "--output", filepath.Base(executed), nb.File)
	cmd.Env = append(os.Environ(), workEnv+"="+work, "TMPDIR="+tmp)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	killGroup(cmd, tmp)
	err := cmd.Run()
	killKernels(tmp)
	if ctx.Err() != nil {
		err = fmt.Errorf("killed after %s (budget %s): %w", limit, nb.Budget, ctx.Err())
	}
	return log.Bytes(), err
}

// logTail returns the last n lines of nbconvert's log without the GoNB kernel's klog lines.
func logTail(log []byte, n int) string {
	var keep []string
	for _, l := range strings.Split(string(log), "\n") {
		if !regexp.MustCompile(`^[IWE]\d{4} `).MatchString(l) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep[max(0, len(keep)-n):], "\n")
}

// cell and output are the parts of an nbformat 4 notebook the checks read.
type cell struct {
	ID       string          `json:"id"`
	Type     string          `json:"cell_type"`
	Source   json.RawMessage `json:"source"`
	Outputs  []output        `json:"outputs"`
	ExecNote json.RawMessage `json:"execution_count"`
}

type output struct {
	Type   string                     `json:"output_type"`
	Name   string                     `json:"name"`
	Text   json.RawMessage            `json:"text"`
	Data   map[string]json.RawMessage `json:"data"`
	EName  string                     `json:"ename"`
	EValue string                     `json:"evalue"`
}

type notebookFile struct {
	Cells    []cell `json:"cells"`
	Metadata struct {
		Kernelspec struct {
			Name string `json:"name"`
		} `json:"kernelspec"`
	} `json:"metadata"`
	Major int `json:"nbformat"`
	Minor int `json:"nbformat_minor"`
}

// multiline reads an nbformat string, stored as a string or a list of lines.
func multiline(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var lines []string
	_ = json.Unmarshal(raw, &lines)
	return strings.Join(lines, "")
}

var (
	// exitStatus is how GoNB reports a failed shell line (!cmd, !*cmd, %%bash) and a failed
	// program; nbconvert does not fail on the former.
	exitStatus = regexp.MustCompile(`(?m)^exit status [0-9]+$`)
	// sanityFailure is how the PPO helpers report a failed sanity check.
	sanityFailure = regexp.MustCompile(`(?m)^(\[[^]]*\] )?SANITY FAILURE`)
	// logNoise are lines of the tools, not of the story: the Go backend announcing its
	// parallelism, `go get` listing what it added.
	logNoise = regexp.MustCompile(`(?m)^(Go backend: parallelism set to .*|go: (added|downloading|upgraded) .*)$`)
)

// checkExecuted returns the problems of an executed notebook: error outputs, failed shell lines
// or programs, PPO sanity failures, log noise, code cells that did not run, fewer than figures
// PNGs, and any of prints that no output contains.
func checkExecuted(data []byte, figures int, prints ...string) []string {
	var nb notebookFile
	if err := json.Unmarshal(data, &nb); err != nil {
		return []string{fmt.Sprintf("executed notebook is not JSON: %v", err)}
	}
	var problems []string
	pngs := 0
	var printed strings.Builder
	for i, c := range nb.Cells {
		if c.Type != "code" {
			continue
		}
		where := fmt.Sprintf("cell %d (%s)", i+1, firstLine(multiline(c.Source)))
		if string(c.ExecNote) == "null" || len(c.ExecNote) == 0 {
			problems = append(problems, where+": did not run")
		}
		for _, o := range c.Outputs {
			switch o.Type {
			case "error":
				problems = append(problems, fmt.Sprintf("%s: error output %s: %s", where, o.EName, firstLines(o.EValue, 12)))
			case "stream":
				text := multiline(o.Text)
				if o.Name == "stderr" && exitStatus.MatchString(text) {
					problems = append(problems, fmt.Sprintf("%s: a shell line or the program failed:\n%s", where, firstLines(text, 12)))
				}
				if sanityFailure.MatchString(text) {
					problems = append(problems, fmt.Sprintf("%s: PPO sanity failure:\n%s", where, firstLines(text, 12)))
				}
				if m := logNoise.FindString(text); m != "" {
					problems = append(problems, fmt.Sprintf("%s: log noise in the output: %q", where, m))
				}
				printed.WriteString(text)
			case "display_data", "execute_result":
				if _, ok := o.Data["image/png"]; ok {
					pngs++
				}
			}
		}
	}
	if pngs < figures {
		problems = append(problems, fmt.Sprintf("%d image/png outputs, want at least %d", pngs, figures))
	}
	for _, want := range prints {
		if !strings.Contains(printed.String(), want) {
			problems = append(problems, fmt.Sprintf("no output prints %q", want))
		}
	}
	return problems
}

// firstLine is the first line of a cell's source that says something (not "%%" or blank).
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && l != "%%" {
			if r := []rune(l); len(r) > 60 {
				l = string(r[:57]) + "..."
			}
			return l
		}
	}
	return "empty"
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("… (%d more lines)", len(lines)-n))
	}
	return strings.Join(lines, "\n")
}

// TestCommittedNotebooks checks what is committed: every notebook of the series and no other,
// nbformat 4.5 with cell ids, the gonb kernel, the setup cell first, and no outputs.
func TestCommittedNotebooks(t *testing.T) {
	files, err := filepath.Glob("*.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, nb := range notebooks {
		want = append(want, nb.File)
	}
	if !slices.Equal(files, want) {
		t.Errorf("notebooks %q, want %q (list a new notebook and its figures in notebooks_test.go)", files, want)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var nb notebookFile
		if err := json.Unmarshal(data, &nb); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if nb.Major != 4 || nb.Minor < 5 || nb.Metadata.Kernelspec.Name != "gonb" {
			t.Errorf("%s: nbformat %d.%d, kernel %q; want 4.5 and gonb", f, nb.Major, nb.Minor, nb.Metadata.Kernelspec.Name)
		}
		setup := false
		for i, c := range nb.Cells {
			if c.ID == "" {
				t.Errorf("%s: cell %d has no id", f, i+1)
			}
			if c.Type != "code" {
				continue
			}
			if !setup {
				setup = true
				if src := multiline(c.Source); !strings.Contains(src, "-replace=github.com/gosrppo/gosrppo=${GONB_DIR}/..") ||
					!strings.Contains(src, "-replace=github.com/gomlx/compute@v0.1.2=${GONB_DIR}/../third_party/compute") || !strings.Contains(src, "gonb@v0.11.4") {
					t.Errorf("%s: the first code cell is not the setup cell:\n%s", f, src)
				}
			}
			if len(c.Outputs) > 0 || (string(c.ExecNote) != "null" && len(c.ExecNote) > 0) {
				t.Errorf("%s: cell %d (%s) is committed with outputs; clear them (jupyter nbconvert --clear-output --inplace %s)", f, i+1, firstLine(multiline(c.Source)), f)
			}
		}
	}
}

// TestCheckExecutedCatches checks the checker's rules on hand-made executed notebooks.
func TestCheckExecutedCatches(t *testing.T) {
	png := `{"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo="}, "metadata": {}}`
	nb := func(outputs ...string) []byte {
		return []byte(`{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
			{"id": "a", "cell_type": "markdown", "source": "# t", "metadata": {}},
			{"id": "b", "cell_type": "code", "execution_count": 1, "source": ["%%\n", "x()"], "metadata": {}, "outputs": [` + strings.Join(outputs, ",") + `]}]}`)
	}
	for _, tc := range []struct {
		name    string
		data    []byte
		figures int
		prints  []string
		want    string // "" = no problem
	}{
		{"good", nb(png, `{"output_type": "stream", "name": "stdout", "text": ["exit status 3 is just text on stdout\n"]}`), 1, nil, ""},
		{"compile error", nb(`{"output_type": "error", "ename": "ERROR", "evalue": "Cell[3]: Line 2: declared and not used: x", "traceback": []}`, png), 1, nil, "declared and not used"},
		{"failed shell line", nb(png, `{"output_type": "stream", "name": "stderr", "text": "ls: cannot access 'x'\nexit status 2\n"}`), 1, nil, "a shell line or the program failed"},
		{"missing figure", nb(png), 2, nil, "1 image/png outputs, want at least 2"},
		{"sanity failure", nb(png, `{"output_type": "stream", "name": "stdout", "text": "SANITY FAILURE at iteration 3: ratio\n"}`), 1, nil, "PPO sanity failure"},
		{"not run", []byte(`{"cells": [{"cell_type": "code", "execution_count": null, "source": "x", "outputs": []}]}`), 0, nil, "did not run"},
		{"not json", []byte(`{`), 0, nil, "not JSON"},
		{"backend noise", nb(png, `{"output_type": "stream", "name": "stdout", "text": "Go backend: parallelism set to -1\n"}`), 1, nil, "log noise"},
		{"go get noise", nb(png, `{"output_type": "stream", "name": "stderr", "text": "go: added github.com/x/y v1.0.0\n"}`), 1, nil, "log noise"},
		{"criteria printed", nb(png, `{"output_type": "stream", "name": "stdout", "text": ["(a) x: held\n", "(b) y: not held\n"]}`), 1, []string{"(a) x", "(b) y"}, ""},
		{"criterion missing", nb(png, `{"output_type": "stream", "name": "stdout", "text": "(a) x: held\n"}`), 1, []string{"(a) x", "(b) y"}, `no output prints "(b) y"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems := checkExecuted(tc.data, tc.figures, tc.prints...)
			switch {
			case tc.want == "" && len(problems) > 0:
				t.Errorf("problems %q, want none", problems)
			case tc.want != "" && !strings.Contains(strings.Join(problems, "\n"), tc.want):
				t.Errorf("problems %q, want one containing %q", problems, tc.want)
			}
		})
	}
}
