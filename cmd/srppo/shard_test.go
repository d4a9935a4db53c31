package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/internal/lockfile"
	"github.com/gosrppo/gosrppo/study"
)

// TestShardValidation: a bad -shard is refused before any work, naming the value, and creates
// nothing.
func TestShardValidation(t *testing.T) {
	for _, v := range []string{"3/3", "-1/2", "0/0", "1", "a/b", "1/2/3"} {
		out := filepath.Join(t.TempDir(), "out")
		var errOut bytes.Buffer
		code := dispatch([]string{"reproduce", "-budget", "smoke", "-out", out, "-shard", v}, io.Discard, &errOut)
		if code == 0 || !strings.Contains(errOut.String(), "-shard "+v+": want I/N with 0 ≤ I < N") {
			t.Errorf("-shard %s: exit %d, stderr %q; want the I/N error", v, code, errOut.String())
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("-shard %s: %s was created", v, out)
		}
	}
	help, _ := child(t, t.TempDir(), "reproduce", "-h").CombinedOutput()
	if !regexp.MustCompile(`(?m)^ +-shard\b`).Match(help) {
		t.Errorf("reproduce -h lists no -shard flag line (scripts/slurm/submit.sh looks for one):\n%s", help)
	}
}

// child runs `srppo args…` as a child process (TestMain's SRPPO_TEST_ARGS) in dir.
func child(t *testing.T, dir string, args ...string) *exec.Cmd {
	t.Helper()
	raw, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SRPPO_TEST_ARGS="+string(raw))
	return cmd
}

// TestShardedReproduceByteIdentical runs the smoke budget (one seed, a tiny model pretrained
// from a tiny world's corpus) once in one process and once as three `-shard i/3` worker
// processes on one OUT followed by the render without -shard, both with the same command
// string (the relative -out out, as scripts/slurm/test.sh does), and wants every stage result,
// tables.md, tables.json (its times and invocation list aside), RESULTS.md (its invocation
// lines and wall time aside) and every figure byte for byte equal. Before the workers start,
// OUT holds a fresh failure record, which stops a worker with an error naming it, and then the
// stage lock of a dead process on this host, which is recovered. The render must compute
// nothing.
func TestShardedReproduceByteIdentical(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the smoke pipeline twice")
	}
	w := datasets.Lean()
	w.CorpusDocs, w.DemoSizes, w.HeldOutDemos, w.PromptPool, w.EvalPerSplit = 300, []int{16}, 16, 60, 12
	wd, err := w.Generate(3)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	data := filepath.Join(root, "data")
	if err := wd.WriteDir(data); err != nil {
		t.Fatal(err)
	}
	args := []string{"reproduce", "-data", data, "-out", "out", "-budget", "smoke", "-seeds", "1", "-layers", "1", "-d-model", "16", "-heads", "2", "-d-ff", "32"}
	single, sharded := filepath.Join(root, "single"), filepath.Join(root, "sharded")
	for _, d := range []string{single, sharded} {
		os.MkdirAll(d, 0o755)
	}
	run := func(dir string, extra ...string) string {
		out, err := child(t, dir, append(args, extra...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", dir, extra, err, out)
		}
		return string(out)
	}
	singleStart := time.Now()
	run(single)
	singleTime := time.Since(singleStart)

	a, b := filepath.Join(single, "out"), filepath.Join(sharded, "out")
	stages := filepath.Join(b, study.StagesDir)
	os.MkdirAll(stages, 0o755)
	// A fresh failure record stops a worker, naming the file.
	failed := filepath.Join(stages, "t0"+study.FailedSuffix)
	os.WriteFile(failed, []byte("t0: boom\n"), 0o644)
	future := time.Now().Add(time.Hour)
	os.Chtimes(failed, future, future)
	if out, err := child(t, sharded, append(args, "-shard", "0/3")...).CombinedOutput(); err == nil || !strings.Contains(string(out), filepath.Join("out", study.StagesDir, "t0"+study.FailedSuffix)) {
		t.Fatalf("a worker with %s present: %v\n%s\nwant an error naming it", failed, err, out)
	}
	os.Remove(failed)
	// A stale claim: a dead process of this host (another host's silent lock is recovered after
	// minutes of observation: internal/lockfile's TestObservedStaleness).
	dead := exec.Command("true")
	dead.Run()
	host, _ := os.Hostname()
	plant := func(key string, o lockfile.Owner, age time.Duration) {
		raw, _ := json.Marshal(o)
		p := filepath.Join(stages, key+".lock")
		os.WriteFile(p, raw, 0o644)
		old := time.Now().Add(-age)
		os.Chtimes(p, old, old)
	}
	plant("t0", lockfile.Owner{Host: host, PID: dead.ProcessState.Pid(), Started: time.Now().UTC()}, 0)

	shardStart := time.Now()
	var workers []*exec.Cmd
	var logs []*bytes.Buffer
	for i := range 3 {
		cmd := child(t, sharded, append(args, "-shard", fmt.Sprintf("%d/3", i))...)
		var log bytes.Buffer
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		workers, logs = append(workers, cmd), append(logs, &log)
	}
	for i, cmd := range workers {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("worker %d/3: %v\n%s", i, err, logs[i])
		}
	}
	shardTime := time.Since(shardStart)
	computed := 0
	for i, log := range logs {
		n := strings.Count(log.String(), "] stage ")
		computed += n
		t.Logf("worker %d/3 computed %d stages", i, n)
	}
	for _, f := range []string{study.TablesFile, study.TablesMDFile, study.ResultsFile, study.FiguresDir} {
		if _, err := os.Stat(filepath.Join(b, f)); err == nil {
			t.Errorf("a worker wrote %s", f)
		}
	}
	render := run(sharded)
	if strings.Contains(render, "] stage ") {
		t.Errorf("the render after the workers computed a stage:\n%s", render)
	}
	t.Logf("single process %s; 3 workers %s (+ render)", singleTime.Round(time.Second), shardTime.Round(time.Second))

	// The same bytes.
	same := func(name string, filter func(string) string) {
		x, err1 := os.ReadFile(filepath.Join(a, name))
		y, err2 := os.ReadFile(filepath.Join(b, name))
		if err1 != nil || err2 != nil {
			t.Errorf("%s: %v %v", name, err1, err2)
			return
		}
		if filter(string(x)) != filter(string(y)) {
			t.Errorf("%s differs between the single-process and the sharded run", name)
		}
	}
	keep := func(s string) string { return s }
	same(study.TablesMDFile, keep)
	same(study.TablesFile, func(s string) string {
		var m map[string]any
		json.Unmarshal([]byte(s), &m)
		delete(m, "seconds")
		delete(m, "invocations")
		out, _ := json.Marshal(m)
		return string(out)
	})
	invocation := regexp.MustCompile(`(?m)^- ([0-9]{4}-[0-9]{2}-[0-9]{2}T|earlier invocation).*\n`)
	wall := regexp.MustCompile(` Wall time: .*`)
	same(study.ResultsFile, func(s string) string { return wall.ReplaceAllString(invocation.ReplaceAllString(s, ""), "") })
	files := func(dir string) []string {
		var out []string
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(dir, p)
				out = append(out, rel)
			}
			return nil
		})
		return out
	}
	var stageFiles []string
	for _, f := range files(filepath.Join(a, study.StagesDir)) {
		if strings.HasSuffix(f, ".json") && f != "pretrain.json" { // pretrain: Open's stage, no progress line
			stageFiles = append(stageFiles, filepath.Join(study.StagesDir, f))
		}
	}
	figs := files(filepath.Join(a, study.FiguresDir))
	if len(stageFiles) < 20 || len(figs) < 8 {
		t.Fatalf("the single run wrote %d stage files and %d figures", len(stageFiles), len(figs))
	}
	if computed < len(stageFiles) {
		t.Errorf("the workers computed %d stages, want all %d (the render computed the rest)", computed, len(stageFiles))
	}
	for _, f := range stageFiles {
		same(f, keep)
	}
	for _, f := range figs {
		same(filepath.Join(study.FiguresDir, f), keep)
	}
	if got := files(filepath.Join(b, study.FiguresDir)); len(got) != len(figs) {
		t.Errorf("sharded figures %d, single %d", len(got), len(figs))
	}
	// Nothing left behind: no claim, no failure; one time per stage, one record per invocation
	// (the refused worker, three workers, the render).
	for _, f := range files(stages) {
		if strings.HasSuffix(f, ".lock") || strings.HasSuffix(f, study.FailedSuffix) {
			t.Errorf("left in stages/: %s", f)
		}
	}
	if secs, _ := filepath.Glob(filepath.Join(stages, "*"+study.SecondsSuffix)); len(secs) != len(stageFiles)+1 { // and pretrain
		t.Errorf("%d stage times for %d stages", len(secs), len(stageFiles))
	}
	if inv, _ := filepath.Glob(filepath.Join(b, study.InvocationsDir, "*.json")); len(inv) != 5 {
		t.Errorf("%d invocation records, want 5", len(inv))
	}
}
