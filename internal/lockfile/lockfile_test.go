package lockfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test binary re-executes itself as a lock contender when this variable names a directory.
const helperEnv = "LOCKFILE_TEST_HELPER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		os.Exit(contender(dir))
	}
	os.Exit(m.Run())
}

// contender waits for the start time in dir/start, takes the directory lock and, holding it,
// writes its pid into three files one after another with pauses, so that two writers without the
// lock would leave files with different pids. Exit 0: it wrote; 3: refused.
func contender(dir string) int {
	raw, _ := os.ReadFile(filepath.Join(dir, "start"))
	start, _ := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	time.Sleep(time.Until(time.Unix(0, start)))
	l, _, err := LockDir(dir, "contender")
	if err != nil {
		fmt.Println(err)
		var held *HeldError
		if errors.As(err, &held) {
			return 3
		}
		return 1
	}
	defer l.Release()
	for _, name := range []string{"a", "b", "c"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			fmt.Println(err)
			return 1
		}
		time.Sleep(300 * time.Millisecond)
	}
	return 0
}

func TestTwoProcessesRaceOneWins(t *testing.T) {
	dir := t.TempDir()
	start := time.Now().Add(700 * time.Millisecond).UnixNano()
	os.WriteFile(filepath.Join(dir, "start"), []byte(strconv.FormatInt(start, 10)), 0o644)
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+dir)
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	var codes []int
	for _, c := range cmds {
		c.Wait()
		codes = append(codes, c.ProcessState.ExitCode())
	}
	slices.Sort(codes)
	if !slices.Equal(codes, []int{0, 3}) {
		t.Fatalf("exit codes %v, want one writer (0) and one refused (3); outputs %q", codes, []string{outs[0].String(), outs[1].String()})
	}
	winner := cmds[0].Process.Pid
	loserOut := outs[1].String()
	if cmds[0].ProcessState.ExitCode() != 0 {
		winner, loserOut = cmds[1].Process.Pid, outs[0].String()
	}
	for _, name := range []string{"a", "b", "c"} {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		if string(data) != strconv.Itoa(winner) {
			t.Errorf("file %s holds %q, want the winner's pid %d", name, data, winner)
		}
	}
	host, _ := os.Hostname()
	if want := fmt.Sprintf("is locked by pid %d on host %s since ", winner, host); !strings.Contains(loserOut, want) || !strings.Contains(loserOut, "(contender)") {
		t.Errorf("refusal %q does not name the holder (%q)", loserOut, want)
	}
	if _, err := os.Stat(filepath.Join(dir, DirLockName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file left after release: %v", err)
	}
}

func writeLock(t *testing.T, path string, o Owner, mtime time.Time) {
	t.Helper()
	data, _ := json.Marshal(o)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestStaleLocksAreRecovered(t *testing.T) {
	host, _ := os.Hostname()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no 'true' command to make a dead pid:", err)
	}
	cases := []struct {
		name  string
		owner Owner
		age   time.Duration
		stale bool
	}{
		{"dead pid on this host", Owner{Host: host, PID: dead.Process.Pid, Started: time.Now()}, 0, true},
		{"pid reused by another process", Owner{Host: host, PID: os.Getpid(), ProcStart: "1", Started: time.Now()}, 0, procStart(os.Getpid()) != ""},
		{"other host, fresh heartbeat", Owner{Host: "elsewhere", PID: 42, Started: time.Now()}, 0, false},
		{"other host, old heartbeat", Owner{Host: "elsewhere", PID: 42, Started: time.Now()}, time.Hour, true},
		{"garbage content, fresh", Owner{}, 0, false},
		{"garbage content, old", Owner{}, time.Hour, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.lock")
			if c.owner.PID == 0 {
				os.WriteFile(path, []byte("{"), 0o644)
				os.Chtimes(path, time.Now().Add(-c.age), time.Now().Add(-c.age))
			} else {
				writeLock(t, path, c.owner, time.Now().Add(-c.age))
			}
			l, err := Acquire(path, Options{})
			if c.stale {
				if err != nil {
					t.Fatalf("stale lock not recovered: %v", err)
				}
				if got := l.Owner(); got.PID != os.Getpid() {
					t.Errorf("owner %+v", got)
				}
				l.Release()
				return
			}
			var held *HeldError
			if !errors.As(err, &held) {
				t.Fatalf("live lock taken over: err %v", err)
			}
			if c.owner.PID != 0 && !strings.Contains(err.Error(), "pid 42 on host elsewhere") {
				t.Errorf("refusal %q does not name the holder", err)
			}
		})
	}
}

func TestHeldInThisProcessAndRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "x.lock")
	l, err := Acquire(path, Options{Heartbeat: 20 * time.Millisecond, Command: "first"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(path, Options{}); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) || !strings.Contains(err.Error(), "(first)") {
		t.Fatalf("second acquire: %v", err)
	}
	// The heartbeat refreshes an old mtime.
	old := time.Now().Add(-time.Hour)
	os.Chtimes(path, old, old)
	time.Sleep(150 * time.Millisecond)
	if info, _ := os.Stat(path); time.Since(info.ModTime()) > time.Minute {
		t.Errorf("heartbeat did not refresh the mtime (%v)", info.ModTime())
	}
	if l.Err() != nil {
		t.Errorf("lock reported lost: %v", l.Err())
	}
	// A lock replaced behind the holder's back is reported lost and not removed by Release.
	writeLock(t, path, Owner{Host: "elsewhere", PID: 7, Started: time.Now()}, time.Now())
	time.Sleep(150 * time.Millisecond)
	if l.Err() == nil {
		t.Error("a taken-over lock is not reported lost")
	}
	l.Release()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("Release removed another holder's lock: %v", err)
	}
	os.Remove(path)
	l2, err := Acquire(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l2.Release()
	l2.Release()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file left after Release: %v", err)
	}
}

func TestLockDirCleansLeftovers(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"train.tmp-123/model.safetensors", "sub/checkpoint.tmp-9/policy/x", ".metrics.jsonl.tmp456", "keep/model/config.json", "sft.json", "train.prev/state.json"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte("x"), 0o644)
	}
	l, removed, err := LockDir(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	want := []string{filepath.Join(dir, ".metrics.jsonl.tmp456"), filepath.Join(dir, "sub/checkpoint.tmp-9"), filepath.Join(dir, "train.tmp-123")}
	slices.Sort(removed)
	if !slices.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	for _, p := range []string{"keep/model/config.json", "sft.json", "train.prev/state.json", DirLockName} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestObservedStaleness: with Options.Observed, another host's lock is judged by what this
// process sees, not by the age of its mtime: an hour-old mtime (a remote clock behind ours) is
// not stale at first sight; a heartbeat that keeps moving is never stale; one that stands still
// for StaleAfter is, and is taken over.
func TestObservedStaleness(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stage.lock")
	raw, _ := json.Marshal(Owner{Host: "another-node", PID: 4242, Started: time.Now().UTC()})
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(path, old, old)
	opts := Options{Observed: true, StaleAfter: 400 * time.Millisecond, Heartbeat: 50 * time.Millisecond}
	var held *HeldError
	if _, err := Acquire(path, opts); !errors.As(err, &held) || held.Owner.Host != "another-node" {
		t.Fatalf("first sight of an hour-old remote lock: %v, want held by another-node", err)
	}
	// The holder's heartbeat moves (even with timestamps in its own, skewed, past).
	for i := range 8 {
		beat := old.Add(time.Duration(i+1) * time.Second)
		os.Chtimes(path, beat, beat)
		time.Sleep(100 * time.Millisecond)
		if _, stale, err := Inspect(path, opts); err != nil || stale {
			t.Fatalf("beat %d: stale %v (%v), want a live lock", i, stale, err)
		}
	}
	// The heartbeat stops: stale after StaleAfter, and Acquire takes it over.
	time.Sleep(500 * time.Millisecond)
	l, err := Acquire(path, opts)
	if err != nil {
		t.Fatalf("after the heartbeat stood still for %s: %v", opts.StaleAfter, err)
	}
	defer l.Release()
	if l.Owner().PID != os.Getpid() {
		t.Errorf("lock owner %+v, want this process", l.Owner())
	}
	// Without Observed the same hour-old remote lock is stale by its age at once (the default).
	other := filepath.Join(dir, "other.lock")
	os.WriteFile(other, raw, 0o644)
	os.Chtimes(other, old, old)
	if _, stale, err := Inspect(other, Options{StaleAfter: time.Minute}); err != nil || !stale {
		t.Errorf("age rule: stale %v (%v), want stale", stale, err)
	}
}
