package datasets

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeTemp writes data to a file called name in a new temporary directory.
func writeTemp(t *testing.T, name, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readAll reads path with the reader of the named kind.
func readAll(kind, path string) error {
	switch kind {
	case "corpus":
		_, err := LoadCorpus(path)
		return err
	case "demos":
		_, err := LoadDemos(path)
		return err
	case "prompts":
		_, err := LoadPrompts(path)
		return err
	default:
		_, err := LoadEval(path)
		return err
	}
}

func TestReadJSONLErrors(t *testing.T) {
	for _, tc := range []struct {
		name, kind, data string
		line             int
		want             string
	}{
		{"bad JSON", "corpus", "{\"text\": \"a\"}\n{\"text\": ", 2, "invalid JSON record"},
		{"trailing garbage", "corpus", `{"text": "a"} x`, 1, "invalid JSON record"},
		{"array", "corpus", `["a"]`, 1, "cannot unmarshal array"},
		{"null", "corpus", `null`, 1, `missing field "text"`},
		{"missing text", "corpus", `{"txt": "a"}`, 1, `missing field "text"`},
		{"blank text", "corpus", `{"text": " \t"}`, 1, `empty field "text"`},
		{"missing response", "demos", "{\"prompt\": \"a\", \"response\": \"b\"}\n{\"prompt\": \"a\"}", 2, `missing field "response"`},
		{"empty prompt after blank lines", "prompts", "\n  \n{\"prompt\": \"\"}\n", 3, `empty field "prompt"`},
		{"empty prompt, key in another case", "prompts", `{"Prompt": ""}`, 1, `empty field "prompt"`},
		{"wrong type", "prompts", `{"prompt": 3}`, 1, "cannot unmarshal number"},
		{"missing answer", "eval", `{"prompt": "a", "split": "id"}`, 1, `missing field "answer"`},
		{"empty split", "eval", `{"prompt": "a", "answer": "b", "split": ""}`, 1, `empty field "split"`},
		{"wrong type len", "eval", `{"prompt": "a", "answer": "b", "split": "id", "len": "4"}`, 1, "cannot unmarshal string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, tc.kind+".jsonl", tc.data)
			err := readAll(tc.kind, path)
			prefix := fmt.Sprintf("%s:%d: ", path, tc.line)
			if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want %q… containing %q", err, prefix, tc.want)
			}
		})
	}
}

func TestReadJSONLAccepts(t *testing.T) {
	// Blank lines, CRLF line ends, unknown fields and a missing final newline are fine.
	data := "{\"prompt\": \"SORT b a\", \"id\": 7}\r\n\n{\"prompt\": \"<q> x\", \"split\": \"mine\"}"
	got, err := LoadPrompts(writeTemp(t, "p.jsonl", data))
	want := []Prompt{{Prompt: "SORT b a"}, {Prompt: "<q> x", Split: "mine"}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("LoadPrompts = %+v, %v, want %+v", got, err, want)
	}
}

func TestReadJSONLCallbackError(t *testing.T) {
	stop := errors.New("stop")
	path := writeTemp(t, "c.jsonl", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n")
	n := 0
	err := ReadCorpus(path, func(d Doc) error {
		if n++; d.Text == "b" {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !strings.HasPrefix(err.Error(), path+":2: ") || n != 2 {
		t.Errorf("error = %v after %d records, want stop at %s:2", err, n, path)
	}
}

func TestReadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.jsonl")
	if err := ReadEval(path, func(EvalItem) error { return nil }); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadEval of a missing file = %v, want ErrNotExist", err)
	}
}

func TestWriteJSONLRoundTrip(t *testing.T) {
	dir := t.TempDir()
	docs := []Doc{{Text: "<q> SORT b a <a> 3 4"}, {Text: "REV a b = b a ;"}}
	demos := []Demo{{Prompt: "SORT b a", Response: "a b"}}
	prompts := []Prompt{{Prompt: "MAX 1 2", Split: "ood_op"}, {Prompt: "LAST 1 2"}}
	eval := []EvalItem{{Prompt: "MIN 1 2", Answer: "1", Split: "id", Op: "MIN", Len: 2}, {Prompt: "x", Answer: "y", Split: "mine"}}
	for name, write := range map[string]func(string) error{
		"c.jsonl": func(p string) error { return WriteJSONL(p, docs) },
		"d.jsonl": func(p string) error { return WriteJSONL(p, demos) },
		"p.jsonl": func(p string) error { return WriteJSONL(p, prompts) },
		"e.jsonl": func(p string) error { return WriteJSONL(p, eval) },
	} {
		if err := write(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "c.jsonl"))
	if want := "{\"text\":\"<q> SORT b a <a> 3 4\"}\n"; !strings.HasPrefix(string(raw), want) {
		t.Errorf("corpus file starts %q, want %q", raw, want)
	}
	if got, err := LoadCorpus(filepath.Join(dir, "c.jsonl")); err != nil || !slices.Equal(got, docs) {
		t.Errorf("corpus = %+v, %v", got, err)
	}
	if got, err := LoadDemos(filepath.Join(dir, "d.jsonl")); err != nil || !slices.Equal(got, demos) {
		t.Errorf("demos = %+v, %v", got, err)
	}
	if got, err := LoadPrompts(filepath.Join(dir, "p.jsonl")); err != nil || !slices.Equal(got, prompts) {
		t.Errorf("prompts = %+v, %v", got, err)
	}
	if got, err := LoadEval(filepath.Join(dir, "e.jsonl")); err != nil || !slices.Equal(got, eval) {
		t.Errorf("eval = %+v, %v", got, err)
	}
}

// dirNames returns the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.bin")
	for _, data := range []string{"first version", "second"} {
		if err := WriteFileAtomic(path, []byte(data)); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); string(got) != data {
			t.Errorf("file holds %q, want %q", got, data)
		}
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"ckpt.bin"}) {
		t.Errorf("directory holds %q, want only ckpt.bin", names)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}

	// A rename onto a non-empty directory fails: the error comes back and no temporary file stays.
	blocked := filepath.Join(dir, "blocked")
	if err := os.MkdirAll(filepath.Join(blocked, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSONL(blocked, []Doc{{Text: "a"}}); err == nil {
		t.Error("writing over a directory succeeded")
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"blocked", "ckpt.bin"}) {
		t.Errorf("after a failed write the directory holds %q", names)
	}
}

// FuzzReadJSONL checks that no input makes the readers panic, that every record they accept has
// its required fields, and that every error names the stream.
func FuzzReadJSONL(f *testing.F) {
	for _, seed := range []string{
		"{\"prompt\": \"a\", \"answer\": \"b\", \"split\": \"id\", \"len\": 3}\n",
		"{\"text\": \"a\"}\n\n{\"text\": \"\"}",
		"{\"prompt\": \"a\", \"response\": \"b\"}\r\n",
		"null\n[1]\n\"x\"\n{\"prompt\": 3}",
		"{\"Prompt\": \"a\", \"split\": null}",
		"\xff\xfe{",
		"\xEF\xBB\xBF{\"text\": \"a\"}\n{\"text\": \"caf\xE9\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(err error, blank bool) {
			if blank {
				t.Fatalf("a record with a blank required field was accepted from %q", data)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "fuzz:") {
				t.Fatalf("error %q does not name the stream", err)
			}
		}
		var blank bool
		onRecord := func(fields []field) error {
			for _, f := range fields {
				blank = blank || strings.TrimSpace(f.value) == ""
			}
			return nil
		}
		err := ReadJSONL(bytes.NewReader(data), "fuzz", func(r Doc) error { return onRecord(r.required()) })
		check(err, blank)
		err = ReadJSONL(bytes.NewReader(data), "fuzz", func(r Demo) error { return onRecord(r.required()) })
		check(err, blank)
		err = ReadJSONL(bytes.NewReader(data), "fuzz", func(r Prompt) error { return onRecord(r.required()) })
		check(err, blank)
		err = ReadJSONL(bytes.NewReader(data), "fuzz", func(r EvalItem) error { return onRecord(r.required()) })
		check(err, blank)
	})
}
