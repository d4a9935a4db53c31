package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRoundsTable checks the ratio of each round and their median on hand-made outputs: Go at 100,
// 120, 90 tokens/s against PyTorch at 100, 100, 100 → ratios 1.00, 1.20, 0.90, median 1.00.
func TestRoundsTable(t *testing.T) {
	dir := t.TempDir()
	goLine := func(tokens float64) string {
		return fmt.Sprintf("BenchmarkGenerate/d128-2   3   100 ns/op   %g tokens/s\n", tokens)
	}
	torchJSON := func(tokens float64) string {
		return fmt.Sprintf(`{"results": [{"workload": "Generate", "size": "d128", "tokens_per_s": %g}]}`, tokens)
	}
	for r, tok := range map[int]float64{2: 120, 3: 90} {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("round%d-go-simd.txt", r)), []byte(goLine(tok)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("round%d-torch-d128.json", r)), []byte(torchJSON(100)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	simd := map[string]goResult{"Generate/d128": {Workload: "Generate", Size: "d128", M: map[string]float64{"tokens/s": 100}}}
	torch := map[string]torchResult{"Generate/d128": {Workload: "Generate", Size: "d128", TokensPerS: 100}}
	var b strings.Builder
	if err := roundsTable(func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }, dir, simd, torch); err != nil {
		t.Fatal(err)
	}
	want := "| Generate | d128 | 1.00 | 1.20 | 0.90 | **1.00** | 100 | 100 |"
	if !strings.Contains(b.String(), want) {
		t.Fatalf("rounds table lacks %q:\n%s", want, b.String())
	}
	// With no further rounds there is no table.
	b.Reset()
	if err := roundsTable(func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }, t.TempDir(), simd, torch); err != nil || b.Len() != 0 {
		t.Fatalf("no rounds: got %q, %v", b.String(), err)
	}
}
