package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/internal/tinygpt2"
	"github.com/gosrppo/gosrppo/srppo"
)

// TestGPT2Commands runs sft, ppo and eval on a tiny GPT-2 checkpoint given with -model-dir and
// free-text chat data, as a user would on distilgpt2 (which -model would download).
func TestGPT2Commands(t *testing.T) {
	dir := t.TempDir()
	base, data := filepath.Join(dir, "base"), filepath.Join(dir, "data")
	if _, err := tinygpt2.Write(base, tinygpt2.Default); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	demos := []datasets.Demo{{Prompt: "Say hello.", Response: "hello world"}, {Prompt: "Greet the world!", Response: "hello, world"},
		{Prompt: "What's after he?", Response: "hel"}, {Prompt: "Write 'or'.", Response: "or or"}}
	var prompts []datasets.Prompt
	var eval []datasets.EvalItem
	for _, d := range demos {
		prompts = append(prompts, datasets.Prompt{Prompt: d.Prompt})
		eval = append(eval, datasets.EvalItem{Prompt: d.Prompt, Answer: d.Response, Split: "id"})
	}
	// No tokenizer.json in the data: the model brings its tokenizer.
	for name, write := range map[string]func(string) error{
		datasets.DemosFile(4): func(p string) error { return datasets.WriteJSONL(p, demos) },
		datasets.HeldOutFile:  func(p string) error { return datasets.WriteJSONL(p, demos[:1]) },
		datasets.PromptsFile:  func(p string) error { return datasets.WriteJSONL(p, prompts) },
		datasets.EvalFile:     func(p string) error { return datasets.WriteJSONL(p, eval) },
	} {
		if err := write(filepath.Join(data, name)); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) string {
		t.Helper()
		var stderr bytes.Buffer
		stdout := captureStdout(t, func() {
			if code := dispatch(args, io.Discard, &stderr); code != 0 {
				t.Fatalf("srppo %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
			}
		})
		return stdout
	}
	sftOut, ppoOut := filepath.Join(dir, "sft"), filepath.Join(dir, "ppo")
	out := run("sft", "-model-dir", base, "-context", "48", "-data", data, "-n", "4", "-out", sftOut, "-epochs", "2", "-batch", "2", "-max-new", "4")
	if !strings.Contains(out, "context 48") || !strings.Contains(out, "π_sft (best epoch") {
		t.Errorf("sft output:\n%s", out)
	}
	for _, d := range []string{filepath.Join(sftOut, srppo.ModelSubdir), filepath.Join(sftOut, srppo.SFTLongSubdir)} {
		if !srppo.IsGPT2Checkpoint(d) {
			t.Errorf("%s is not a GPT-2 checkpoint", d)
		}
	}
	run("ppo", "-model-dir", base, "-context", "48", "-sft", sftOut, "-prompts", filepath.Join(data, datasets.PromptsFile), "-out", ppoOut,
		"-iterations", "1", "-rollout-prompts", "2", "-samples", "2", "-minibatch", "4", "-max-new", "4", "-eval-per-split", "2", "-eval-every", "1")
	if _, err := os.Stat(filepath.Join(ppoOut, "metrics.jsonl")); err != nil {
		t.Error(err)
	}
	report := filepath.Join(dir, "eval.json")
	out = run("eval", "-model", ppoOut, "-data", data, "-context", "48", "-max-new", "4", "-report", report)
	if !strings.Contains(out, "id") {
		t.Errorf("eval output:\n%s", out)
	}
	if _, err := os.Stat(report); err != nil {
		t.Error(err)
	}
	var stderr bytes.Buffer
	if code := dispatch([]string{"sft", "-data", data, "-out", sftOut}, io.Discard, &stderr); code != 1 || !strings.Contains(stderr.String(), "-pt or -model") {
		t.Errorf("sft without a base model: exit %d, %s", code, stderr.String())
	}
}

// captureStdout returns what fn prints to os.Stdout (the commands print their progress there).
func captureStdout(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	defer func() {
		os.Stdout = old
	}()
	fn()
	w.Close()
	os.Stdout = old
	return <-done
}
