package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/internal/lockfile"
)

// robustData writes a small bring-your-own data directory (no tokenizer.json): copy tasks over
// eight words, every word of the demos, prompts and eval in the corpus.
func robustData(t *testing.T, dir string) {
	t.Helper()
	words := []string{"red", "green", "blue", "cat", "dog", "owl", "sun", "moon"}
	w := func(i int) string { return words[i%len(words)] }
	jl := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	var corpus, demos, held, prompts, eval []string
	for i := range 40 {
		corpus = append(corpus, jl(datasets.Doc{Text: "copy " + w(i) + " " + w(i*3+1) + " gives " + w(i) + " " + w(i*3+1)}))
	}
	for i := range 8 {
		demos = append(demos, jl(datasets.Demo{Prompt: "copy " + w(i) + " " + w(i+3), Response: w(i) + " " + w(i+3)}))
	}
	for i := range 4 {
		held = append(held, jl(datasets.Demo{Prompt: "copy " + w(i+1) + " " + w(i), Response: w(i+1) + " " + w(i)}))
		eval = append(eval, jl(datasets.EvalItem{Prompt: "copy " + w(i+2) + " " + w(i), Answer: w(i+2) + " " + w(i), Split: "id"}))
	}
	for i := range 10 {
		prompts = append(prompts, jl(datasets.Prompt{Prompt: "copy " + w(i) + " " + w(i+5)}))
	}
	os.MkdirAll(dir, 0o755)
	for name, lines := range map[string][]string{datasets.CorpusFile: corpus, datasets.DemosFile(8): demos, datasets.HeldOutFile: held,
		datasets.PromptsFile: prompts, datasets.EvalFile: eval} {
		writeLines(t, filepath.Join(dir, name), lines...)
	}
}

func writeLines(t *testing.T, path string, lines ...string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies the regular files of src (one level) into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	os.MkdirAll(dst, 0o755)
	entries, _ := os.ReadDir(src)
	for _, e := range entries {
		if e.Type().IsRegular() {
			data, _ := os.ReadFile(filepath.Join(src, e.Name()))
			os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644)
		}
	}
}

// runCmd runs a command and returns its exit code, stdout and stderr.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stderr bytes.Buffer
	code := 0
	out := captureStdout(t, func() { code = dispatch(args, io.Discard, &stderr) })
	return code, out, stderr.String()
}

// TestCommandsRefuseBadInputs goes through the cases of issue 17 on a tiny pretrained base and
// SFT model: each is refused before any work with a message naming the file and line, the field,
// or the lock holder. The messages are logged (go test -v) for the closing note's table.
func TestCommandsRefuseBadInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny base and SFT model")
	}
	root := t.TempDir()
	data, pt, sft := filepath.Join(root, "data"), filepath.Join(root, "pt"), filepath.Join(root, "sft")
	robustData(t, data)
	tiny := []string{"-layers", "1", "-d-model", "16", "-heads", "2", "-d-ff", "32", "-context", "32"}
	ptArgs := append([]string{"pretrain", "-data", data, "-out", pt, "-epochs", "1", "-batch", "4", "-warmup", "1", "-heldout", "0.1"}, tiny...)
	if code, _, errOut := runCmd(t, ptArgs...); code != 0 {
		t.Fatalf("pretrain: exit %d: %s", code, errOut)
	}
	sftArgs := []string{"sft", "-data", data, "-pt", pt, "-out", sft, "-n", "8", "-epochs", "1", "-min-steps", "2", "-batch", "4", "-warmup", "1", "-max-new", "4"}
	if code, _, errOut := runCmd(t, sftArgs...); code != 0 {
		t.Fatalf("sft: exit %d: %s", code, errOut)
	}
	ppoArgs := func(ptDir, sftDir, prompts string) []string {
		return []string{"ppo", "-prompts", prompts, "-pt", ptDir, "-sft", sftDir, "-out", filepath.Join(root, "ppo"), "-iterations", "1",
			"-rollout-prompts", "2", "-samples", "2", "-max-new", "4", "-minibatch", "4", "-eval-per-split", "0"}
	}
	// A data directory with the vocabulary of data (its tokenizer.json) and one file replaced.
	variant := func(name, file string, lines ...string) string {
		dir := filepath.Join(root, name)
		copyDir(t, data, dir)
		tok, _ := os.ReadFile(filepath.Join(pt, "model", "tokenizer.json"))
		os.WriteFile(filepath.Join(dir, datasets.TokenizerFile), tok, 0o644)
		writeLines(t, filepath.Join(dir, file), lines...)
		return dir
	}
	basePT := filepath.Join(root, "pt-copy")
	copyDir(t, filepath.Join(pt, "model"), basePT)
	leftover := filepath.Join(sft, "train.tmp-4242")
	os.MkdirAll(leftover, 0o755)

	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"sft resumed with another -seed and -lr", append(append([]string{}, sftArgs...), "-seed", "2", "-lr", "0.01"),
			[]string{filepath.Join(sft, "train") + " was written with other training settings (optim.lr: checkpoint 0.001, now 0.01; seed: checkpoint 1, now 2)"}},
		{"sft -pt given an SFT model", []string{"sft", "-data", data, "-pt", sft, "-out", filepath.Join(root, "sft2"), "-n", "8"},
			[]string{"-pt " + sft + " is an SFT model (from srppo sft), but -pt needs a base model (from srppo pretrain)"}},
		{"ppo -sft given a base", ppoArgs(pt, basePT, filepath.Join(data, datasets.PromptsFile)),
			[]string{"-sft " + basePT + " is a base model (from srppo pretrain), but -sft needs an SFT model (from srppo sft)"}},
		{"ppo -pt and -sft the same model", ppoArgs(sft, filepath.Join(sft, "model"), filepath.Join(data, datasets.PromptsFile)),
			[]string{"are the same model: the reward log π_sft − log π_pt would be exactly 0"}},
		{"pool prompt with an unknown word on line 3", ppoArgs(pt, sft, filepath.Join(variant("pool-word", datasets.PromptsFile,
			`{"prompt": "copy red cat"}`, ``, `{"prompt": "copy zebra cat"}`), datasets.PromptsFile)),
			[]string{filepath.Join(root, "pool-word", datasets.PromptsFile) + `:3: prompt: unknown word "zebra"`}},
		{"pool prompt with non-UTF-8 bytes", ppoArgs(pt, sft, filepath.Join(variant("pool-utf8", datasets.PromptsFile,
			`{"prompt": "copy red cat"}`, "{\"prompt\": \"copy r\xE9d cat\"}"), datasets.PromptsFile)),
			[]string{filepath.Join(root, "pool-utf8", datasets.PromptsFile) + `:2: invalid UTF-8 (byte 0xe9 at column 19)`}},
		{"pool prompt longer than the context", ppoArgs(pt, sft, filepath.Join(variant("pool-long", datasets.PromptsFile,
			`{"prompt": "copy red cat"}`, `{"prompt": "copy`+strings.Repeat(" red cat", 15)+`"}`), datasets.PromptsFile)),
			[]string{filepath.Join(root, "pool-long", datasets.PromptsFile) + `:2: prompt has 34 tokens; with a response budget of 4 (-max-new) that exceeds the context of 32`}},
		{"empty prompt pool", ppoArgs(pt, sft, filepath.Join(variant("pool-empty", datasets.PromptsFile, ""), datasets.PromptsFile)),
			[]string{filepath.Join(root, "pool-empty", datasets.PromptsFile) + ": no records (the file is empty or blank)"}},
		{"empty eval.jsonl", []string{"eval", "-model", sft, "-data", variant("eval-empty", datasets.EvalFile)},
			[]string{filepath.Join(root, "eval-empty", datasets.EvalFile) + ": no records"}},
		{"eval -model a missing local path", []string{"eval", "-model", "/nonexistent/model", "-data", data},
			[]string{"-model /nonexistent/model: no such model directory"}},
		{"eval item with an unknown word", []string{"eval", "-model", sft, "-data", variant("eval-word", datasets.EvalFile,
			`{"prompt": "copy red cat", "answer": "red cat", "split": "id"}`, `{"prompt": "copy red yak", "answer": "red yak", "split": "id"}`)},
			[]string{filepath.Join(root, "eval-word", datasets.EvalFile) + `:2: prompt: unknown word "yak"`}},
		{"demonstration longer than the context", []string{"sft", "-data", variant("demo-long", datasets.DemosFile(8),
			`{"prompt": "copy red cat", "response": "red cat"}`, `{"prompt": "copy`+strings.Repeat(" red cat", 10)+`", "response": "`+strings.Repeat("red cat ", 10)+`"}`), "-pt", pt, "-out", filepath.Join(root, "sft3"), "-n", "8"},
			[]string{filepath.Join(root, "demo-long", datasets.DemosFile(8)) + ":2: prompt + response has 45 tokens > context 32"}},
		{"demonstration with an empty field", []string{"sft", "-data", variant("demo-empty", datasets.DemosFile(8),
			`{"prompt": "copy red cat", "response": ""}`), "-pt", pt, "-out", filepath.Join(root, "sft4"), "-n", "8"},
			[]string{filepath.Join(root, "demo-empty", datasets.DemosFile(8)) + `:1: empty field "response"`}},
		{"empty corpus", []string{"pretrain", "-data", variant("corpus-empty", datasets.CorpusFile, "  "), "-out", filepath.Join(root, "pt2")},
			[]string{filepath.Join(root, "corpus-empty", datasets.CorpusFile) + ": no records"}},
		{"corpus with an unknown word on line 2", []string{"pretrain", "-data", variant("corpus-word", datasets.CorpusFile, `{"text": "copy red cat"}`, `{"text": "copy gnu"}`), "-out", filepath.Join(root, "pt3")},
			[]string{filepath.Join(root, "corpus-word", datasets.CorpusFile) + `:2: text: unknown word "gnu"`}},
		{"eval word the corpus never uses", func() []string {
			dir := filepath.Join(root, "unseen")
			copyDir(t, data, dir)
			writeLines(t, filepath.Join(dir, datasets.EvalFile), `{"prompt": "copy red cat", "answer": "red cat", "split": "id"}`, `{"prompt": "swap red cat", "answer": "cat red", "split": "novel"}`)
			return []string{"pretrain", "-data", dir, "-out", filepath.Join(root, "pt4")}
		}(), []string{"1 word(s) of the demonstrations, prompts or eval items appear nowhere in " + filepath.Join(root, "unseen", datasets.CorpusFile), filepath.Join(root, "unseen", datasets.EvalFile) + `:2: "swap"`, "-allow-unseen-words"}},
		{"vocabulary differs from the base's", func() []string {
			dir := filepath.Join(root, "vocab")
			copyDir(t, data, dir)
			writeLines(t, filepath.Join(dir, datasets.CorpusFile), `{"text": "copy red cat gives red cat"}`, `{"text": "copy emu cat"}`)
			return []string{"sft", "-data", dir, "-pt", pt, "-out", filepath.Join(root, "sft5"), "-n", "8"}
		}(), []string{"vocabulary does not match", `only in the data: "emu"`, "pretrain a base on this data directory"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runCmd(t, c.args...)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stderr: %s", code, errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q lacks %q", errOut, w)
				}
			}
			t.Logf("message: %s", strings.TrimSpace(errOut))
		})
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Errorf("leftover %s of an interrupted write not removed: %v", leftover, err)
	}
	// Roles recorded: the base, the SFT model.
	for dir, want := range map[string]string{filepath.Join(pt, "model"): "base", filepath.Join(sft, "model"): "sft", filepath.Join(sft, "long"): "sft"} {
		raw, _ := os.ReadFile(filepath.Join(dir, "config.json"))
		if !strings.Contains(string(raw), fmt.Sprintf(`"role": %q`, want)) {
			t.Errorf("%s/config.json lacks role %q:\n%s", dir, want, raw)
		}
	}
}

// A second writer of an output directory is refused at once, naming the holder.
func TestOutputLockRefusesSecondWriter(t *testing.T) {
	out := t.TempDir()
	l, _, err := lockfile.LockDir(out, "srppo world")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	for _, args := range [][]string{{"world", "-out", out}, {"pretrain", "-data", out, "-out", out}, {"reproduce", "-out", out}} {
		code, _, errOut := runCmd(t, args...)
		want := fmt.Sprintf("%s is locked by pid %d on host ", filepath.Join(out, lockfile.DirLockName), os.Getpid())
		if code != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "(srppo world)") {
			t.Errorf("%v: exit %d, stderr %q; want it to name the holder", args, code, errOut)
		}
		t.Logf("message: %s", strings.TrimSpace(errOut))
	}
}

// TestMain lets a test run the command in a child process (SRPPO_TEST_ARGS: its arguments as
// JSON), so that it can be killed.
func TestMain(m *testing.M) {
	if raw := os.Getenv("SRPPO_TEST_ARGS"); raw != "" {
		var args []string
		if err := json.Unmarshal([]byte(raw), &args); err != nil {
			panic(err)
		}
		os.Exit(dispatch(args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// A pretrain process killed with SIGKILL after some checkpoints leaves its lock (a dead pid) and
// possibly a half-written checkpoint; rerunning the same command takes the lock over, removes the
// leftovers, resumes and ends with weights byte-identical to an uninterrupted run.
func TestKilledPretrainResumesByteIdentical(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model three times")
	}
	root := t.TempDir()
	data := filepath.Join(root, "data")
	robustData(t, data)
	args := func(out string) []string {
		return []string{"pretrain", "-data", data, "-out", out, "-layers", "1", "-d-model", "16", "-heads", "2", "-d-ff", "32", "-context", "32",
			"-epochs", "8", "-batch", "1", "-warmup", "1", "-heldout", "0.1", "-checkpoint-every", "1"}
	}
	killed, straight := filepath.Join(root, "killed"), filepath.Join(root, "straight")
	raw, _ := json.Marshal(args(killed))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SRPPO_TEST_ARGS="+string(raw))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	step := 0
	deadline := time.Now().Add(2 * time.Minute)
	for step < 5 && time.Now().Before(deadline) {
		var st struct{ Step int }
		if b, err := os.ReadFile(filepath.Join(killed, "train", "state.json")); err == nil && json.Unmarshal(b, &st) == nil {
			step = st.Step
		}
		time.Sleep(2 * time.Millisecond)
	}
	cmd.Process.Kill()
	<-done
	if step < 5 {
		t.Fatalf("no checkpoint beyond step 5 within the deadline (step %d)", step)
	}
	if _, err := os.Stat(filepath.Join(killed, lockfile.DirLockName)); err != nil {
		t.Fatalf("the killed process left no lock to recover: %v", err)
	}
	if _, err := os.Stat(filepath.Join(killed, "model")); err == nil {
		t.Skip("the run finished before it was killed")
	}
	for _, out := range []string{killed, straight} {
		if code, _, errOut := runCmd(t, args(out)...); code != 0 {
			t.Fatalf("%s: exit %d: %s", out, code, errOut)
		}
	}
	a, _ := os.ReadFile(filepath.Join(killed, "model", "model.safetensors"))
	b, _ := os.ReadFile(filepath.Join(straight, "model", "model.safetensors"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("weights after kill (at step %d) and resume differ from the uninterrupted run's (%d vs %d bytes)", step, len(a), len(b))
	}
	var res struct {
		Result struct {
			LossTokens int64 `json:"loss_tokens"`
		} `json:"result"`
	}
	ra, _ := os.ReadFile(filepath.Join(killed, "pretrain.json"))
	rb, _ := os.ReadFile(filepath.Join(straight, "pretrain.json"))
	var resB = res
	json.Unmarshal(ra, &res)
	json.Unmarshal(rb, &resB)
	if res.Result.LossTokens == 0 || res.Result.LossTokens != resB.Result.LossTokens {
		t.Errorf("loss_tokens after resume %d, uninterrupted %d", res.Result.LossTokens, resB.Result.LossTokens)
	}
}
