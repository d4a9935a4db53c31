package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gosrppo/gosrppo/datasets"
)

func TestWorldCommand(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"world", "-out", dir, "-preset", "full", "-seed", "3", "-corpus-docs", "50", "-n-demos", "100"}
	if code := dispatch(args, &stdout, &stderr); code != 0 {
		t.Fatalf("srppo %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
	}
	demos, err := datasets.LoadDemos(filepath.Join(dir, datasets.DemosFile(100)))
	if err != nil || len(demos) != 100 {
		t.Errorf("demos_100.jsonl: %d demos, %v", len(demos), err)
	}
	if _, err := os.Stat(filepath.Join(dir, datasets.DemosFile(16))); !os.IsNotExist(err) {
		t.Errorf("-n-demos 100 also wrote demos_16.jsonl")
	}
	if corpus, err := datasets.LoadCorpus(filepath.Join(dir, datasets.CorpusFile)); err != nil || len(corpus) != 50 {
		t.Errorf("corpus.jsonl: %d documents, %v", len(corpus), err)
	}
}

func TestDispatchErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		out, inErr string
	}{
		{"no command lists the commands", nil, 0, "usage: srppo <command>", ""},
		{"reproduce without -out", []string{"reproduce"}, 1, "", "srppo reproduce: -out is required"},
		{"help", []string{"-h"}, 0, "world", ""},
		{"unknown command", []string{"train"}, 2, "", `srppo: unknown command "train"`},
		{"missing -out", []string{"world"}, 1, "", "srppo world: -out is required"},
		{"unknown preset", []string{"world", "-out", dir, "-preset", "big"}, 1, "", `srppo world: unknown preset "big" (valid: lean, full)`},
		{"too many demos", []string{"world", "-out", dir, "-n-demos", "2000"}, 1, "", "srppo world: -n-demos 2000: want 0 (every size) or 1..1024"},
		{"unknown flag", []string{"world", "-bogus"}, 2, "", ""},
		{"positional argument", []string{"world", "-out", dir, "extra"}, 2, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := dispatch(tc.args, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stdout.String(), tc.out) || !strings.Contains(stderr.String(), tc.inErr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
					code, stdout.String(), stderr.String(), tc.code, tc.out, tc.inErr)
			}
		})
	}
}
