package study

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gosrppo/gosrppo/internal/lockfile"
)

func TestParseShard(t *testing.T) {
	for v, want := range map[string]Shard{"0/1": {0, 1}, "2/3": {2, 3}, "0/16": {0, 16}} {
		if got, err := ParseShard(v); err != nil || got != want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"", "1/1", "3/2", "-1/2", "0/0", "0/-1", "x/2", "1/y", "1", "1/2/3", " 1/2"} {
		if _, err := ParseShard(v); err == nil || err.Error() != "-shard "+v+": want I/N with 0 ≤ I < N" {
			t.Errorf("ParseShard(%q): %v, want the I/N error", v, err)
		}
	}
}

// TestLiveClaims: a stage lock held by a live process is a live claim; one left by a dead
// process of this host is not.
func TestLiveClaims(t *testing.T) {
	dir := t.TempDir()
	l, err := lockfile.Acquire(filepath.Join(dir, StagesDir, "t0.lock"), stageLockOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	raw, _ := json.Marshal(lockfile.Owner{Host: host, PID: dead.ProcessState.Pid(), Started: time.Now().UTC()})
	if err := os.WriteFile(filepath.Join(dir, StagesDir, "eval-pt.lock"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := LiveClaims(dir); !slices.Equal(got, []string{l.Path()}) {
		t.Errorf("LiveClaims = %v, want only %s", got, l.Path())
	}
}
