package study

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gosrppo/gosrppo/srppo"
)

func TestLastRollout(t *testing.T) {
	dir := t.TempDir()
	if r, _, err := lastRollout(dir); r != nil || err != nil {
		t.Fatalf("empty directory: rollout %v, error %v; want none", r, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "rollouts"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, it := range []int{2, 10, 9} {
		if err := sampledRollout(it).Save(filepath.Join(dir, "rollouts", fmt.Sprintf("rollout_%d.json", it))); err != nil {
			t.Fatal(err)
		}
	}
	r, path, err := lastRollout(dir)
	if err != nil || r.Iteration != 10 || filepath.Base(path) != "rollout_10.json" {
		t.Fatalf("got %s (iteration %v), %v; want rollout_10.json", path, r, err)
	}
	if err := sampledRollout(42).Save(filepath.Join(dir, "rollout.json")); err != nil {
		t.Fatal(err)
	}
	if r, _, err := lastRollout(dir); err != nil || r.Iteration != 42 {
		t.Fatalf("DIR/rollout.json is not preferred: %v, %v", r, err)
	}
}

func TestInputNames(t *testing.T) {
	for _, tc := range []struct {
		paths      []string
		dropShared bool
		want       []string
	}{
		{[]string{"/x/runs/eos"}, false, []string{"eos"}},
		{[]string{"/x/report.json"}, true, []string{"report"}},
		{[]string{"/x/runs/eos", "/x/runs/token"}, false, []string{"eos", "token"}},
		{[]string{"/x/seed1/eos", "/x/seed2/eos"}, false, []string{"seed1/eos", "seed2/eos"}},
		{[]string{"/tmp/ppo1", "/tmp/b/ppo1", "/tmp/c/ppo2"}, false, []string{"tmp/ppo1", "b/ppo1", "ppo2"}},
		{[]string{"/x/sft/report.json", "/x/eos/report.json"}, true, []string{"sft", "eos"}},
		{[]string{"/x/sft/report.json", "/x/eos/report.json"}, false, []string{"sft/report", "eos/report"}},
		{[]string{"/a/eos/r.json", "/b/eos/r.json", "/b/token/r.json"}, true, []string{"a/eos", "b/eos", "token"}},
		{[]string{"/x/eos", "/x/eos"}, false, []string{"eos #1", "eos #2"}},
		{[]string{"/eos", "/eos"}, true, []string{"eos #1", "eos #2"}},
	} {
		if got := inputNames(tc.paths, tc.dropShared); !slices.Equal(got, tc.want) {
			t.Errorf("inputNames(%q, %v) = %q, want %q", tc.paths, tc.dropShared, got, tc.want)
		}
	}
}

// sampledRollout is a one-row rollout of iteration it, as sampled (before scoring).
func sampledRollout(it int) *srppo.Rollout {
	return &srppo.Rollout{Iteration: it, Config: srppo.DefaultPPOConfig(srppo.PlaceEOS), Rows: []srppo.RolloutRow{{
		Prompt: "REV a b", Split: "id", PromptTokens: []int32{5, 6}, Tokens: []int32{7, 2}, Words: []string{"b", "<eos>"},
		LogpOld: []float32{-0.5, -0.1}, Stopped: true}}}
}
