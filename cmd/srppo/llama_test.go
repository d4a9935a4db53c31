package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/internal/tinyllama"
	"github.com/gosrppo/gosrppo/srppo"
)

// TestLlamaCommands runs sft → ppo → eval on tiny Llama- and Qwen3-shaped checkpoints given with
// -model-dir, as a user would on SmolLM2-135M or Qwen2.5-0.5B, and checks that a run whose memory
// estimate exceeds -memory-limit is refused before it starts, naming the estimate and the limit.
func TestLlamaCommands(t *testing.T) {
	for _, fam := range []string{"llama", "qwen3"} {
		t.Run(fam, func(t *testing.T) {
			dir := t.TempDir()
			base, data := filepath.Join(dir, "base"), filepath.Join(dir, "data")
			o := tinyllama.Defaults(fam)
			o.Shards = 2
			if _, err := tinyllama.Write(base, o); err != nil {
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
			out := run("sft", "-model-dir", base, "-context", "60", "-data", data, "-n", "4", "-out", sftOut, "-epochs", "2", "-batch", "2", "-max-new", "4", "-memory-limit", "8GiB")
			if !strings.Contains(out, "context 60") || !strings.Contains(out, "π_sft (best epoch") {
				t.Errorf("sft output:\n%s", out)
			}
			sftModel, err := srppo.LoadPretrained("", sftOut, 0)
			if err != nil || sftModel.Config.Family != fam {
				t.Fatalf("the SFT model does not reload as %s: %v", fam, err)
			}
			ppoArgs := []string{"ppo", "-model-dir", base, "-context", "60", "-sft", sftOut, "-prompts", filepath.Join(data, datasets.PromptsFile), "-out", ppoOut,
				"-iterations", "1", "-rollout-prompts", "2", "-samples", "2", "-minibatch", "4", "-score-batch", "4", "-max-new", "4", "-eval-per-split", "2", "-eval-every", "1", "-bf16-frozen"}
			var stderr bytes.Buffer
			if code := dispatch(append(ppoArgs, "-memory-limit", "1MiB"), io.Discard, &stderr); code != 1 ||
				!strings.Contains(stderr.String(), "srppo ppo (limit: -memory-limit 1MiB) needs about") || !strings.Contains(stderr.String(), "0.00 GiB limit") {
				t.Errorf("ppo over its memory limit: exit %d, %s", code, stderr.String())
			}
			if _, err := os.Stat(ppoOut); err == nil {
				t.Error("the refused run created its output directory")
			}
			run(ppoArgs...)
			if _, err := os.Stat(filepath.Join(ppoOut, "metrics.jsonl")); err != nil {
				t.Error(err)
			}
			report := filepath.Join(dir, "eval.json")
			out = run("eval", "-model", ppoOut, "-data", data, "-context", "60", "-max-new", "4", "-report", report, "-bf16")
			if !strings.Contains(out, "id") {
				t.Errorf("eval output:\n%s", out)
			}
			stderr.Reset()
			if code := dispatch([]string{"eval", "-model", ppoOut, "-data", data, "-memory-limit", "lots"}, io.Discard, &stderr); code != 1 || !strings.Contains(stderr.String(), `-memory-limit "lots"`) {
				t.Errorf("bad -memory-limit: exit %d, %s", code, stderr.String())
			}
		})
	}
}
