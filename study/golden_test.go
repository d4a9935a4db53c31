package study

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPublishedResultsGolden re-renders the published RESULTS.md and RESULTS_length.md from the
// tables.json recorded beside their figures and wants them byte for byte, and tables.json
// itself must survive a decode/encode round trip unchanged: moving or refactoring the renderer
// may not change what a published study says. After a deliberate change of the renderer,
// GOSRPPO_UPDATE_GOLDEN=1 re-renders the published files (review the diff, then commit both).
func TestPublishedResultsGolden(t *testing.T) {
	root := ".."
	for _, budget := range []string{"grid", "length"} {
		file, figDir := PublishedNames(budget)
		raw, err := os.ReadFile(filepath.Join(root, figDir, "tables.json"))
		if err != nil {
			t.Fatal(err)
		}
		var tb Tables
		if err := json.Unmarshal(raw, &tb); err != nil {
			t.Fatalf("%s/tables.json: %v", figDir, err)
		}
		again, err := json.MarshalIndent(tb, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if string(append(again, '\n')) != string(raw) {
			t.Errorf("%s/tables.json does not survive a decode/encode round trip", figDir)
		}
		want, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Fatal(err)
		}
		got := RenderResults(&tb, figDir, "docs/design.md")
		if os.Getenv("GOSRPPO_UPDATE_GOLDEN") == "1" {
			// After a deliberate change of the renderer: re-render the published files.
			if err := os.WriteFile(filepath.Join(root, file), []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got != string(want) {
			t.Errorf("%s re-rendered from %s/tables.json differs:\n%s", file, figDir, firstDiff(got, string(want)))
		}
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := splitLines(got), splitLines(want)
	for i := range max(len(g), len(w)) {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return "line " + itoa(i+1) + ":\n got: " + a + "\nwant: " + b
		}
	}
	return "(no line differs; trailing bytes do)"
}

func splitLines(s string) []string { return strings.Split(s, "\n") }

func itoa(i int) string { return strconv.Itoa(i) }

// The published RESULTS_sweep.md re-renders byte for byte from the sweep.json beside its
// figures (once the sweep has been published).
func TestPublishedSweepGolden(t *testing.T) {
	file, figDir := PublishedNames("sweep")
	raw, err := os.ReadFile(filepath.Join("..", figDir, SweepTablesFile))
	if os.IsNotExist(err) {
		t.Skip("the sweep has not been published yet")
	}
	if err != nil {
		t.Fatal(err)
	}
	var st SweepTables
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("%s/%s: %v", figDir, SweepTablesFile, err)
	}
	want, err := os.ReadFile(filepath.Join("..", file))
	if err != nil {
		t.Fatal(err)
	}
	if got := RenderSweepResults(&st, figDir, "docs/design.md"); got != string(want) {
		t.Errorf("%s re-rendered from %s/%s differs:\n%s", file, figDir, SweepTablesFile, firstDiff(got, string(want)))
	}
}
