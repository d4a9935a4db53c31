package datasets

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gosrppo/gosrppo/internal/tinygpt2"
)

// Issue 17's hostile files: each is an error naming the file and line (or the file, when it is
// empty), and a byte order mark is read through.
func TestJSONLHostileFiles(t *testing.T) {
	dir := t.TempDir()
	long := `{"prompt": "` + strings.Repeat("x ", MaxLineBytes) + `"}`
	cases := []struct {
		name, content, want string // want "" = reads fine
	}{
		{"bom", "\xEF\xBB\xBF{\"prompt\": \"a b\"}\n{\"prompt\": \"c\"}\n", ""},
		{"bom in the middle", "{\"prompt\": \"a\"}\n\xEF\xBB\xBF{\"prompt\": \"c\"}\n", ":2: byte order mark"},
		{"non-utf8", "{\"prompt\": \"a\"}\n\n{\"prompt\": \"caf\xE9\"}\n", ":3: invalid UTF-8 (byte 0xe9 at column 16)"},
		{"long line", "{\"prompt\": \"a\"}\n" + long + "\n{\"prompt\": \"b\"}\n", ":2: line longer than 1048576 bytes"},
		{"long last line", long, ":1: line longer than 1048576 bytes"},
		{"empty", "", ": no records (the file is empty or blank)"},
		{"blank", "\n  \n\t\n", ": no records"},
		{"empty field", "{\"prompt\": \"a\"}\n{\"prompt\": \" \"}\n", `:2: empty field "prompt"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".jsonl")
			os.WriteFile(path, []byte(c.content), 0o644)
			ps, err := LoadPrompts(path)
			if c.want == "" {
				if err != nil || len(ps) != 2 || ps[0].Prompt != "a b" {
					t.Fatalf("prompts %+v, err %v", ps, err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %s%s…", err, path, c.want)
			}
			if strings.HasPrefix(c.name, "empty") && c.name != "empty field" && !errors.Is(err, ErrNoRecords) {
				t.Errorf("error %v does not wrap ErrNoRecords", err)
			}
		})
	}
}

// FuzzWordTokenizer: the word tokenizer's JSON never panics; what loads round-trips.
func FuzzWordTokenizer(f *testing.F) {
	good, _ := NewTokenizer([]string{"a", "b"}).Marshal()
	f.Add(good)
	f.Add([]byte(`{"words": ["<pad>", "<bos>", "<eos>", "<q>", "<a>", "x", "x"]}`))
	f.Add([]byte("\xEF\xBB\xBF{\"words\": []}"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		tok, err := parseTokenizer(raw, "tokenizer.json")
		if err != nil {
			return
		}
		again, err := tok.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := parseTokenizer(again, "again")
		if err != nil || !back.Equal(tok) {
			t.Fatalf("round trip: %v", err)
		}
		for i, w := range tok.Words() {
			if ids, err := tok.Encode(w); err != nil || len(ids) != 1 || ids[0] != int32(i) {
				t.Fatalf("word %d %q encodes to %v, %v", i, w, ids, err)
			}
		}
	})
}

// FuzzParseBPE: a tokenizer.json never panics the loader, and what loads encodes and decodes text.
func FuzzParseBPE(f *testing.F) {
	f.Add(tinygpt2.TokenizerJSON(false))
	f.Add(tinygpt2.TokenizerJSON(true))
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 5}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := ParseBPE(raw, "tokenizer.json")
		if err != nil {
			return
		}
		exerciseBPE(t, b)
	})
}

// FuzzLoadBPEFiles: GPT-2's vocab.json + merges.txt never panic the loader.
func FuzzLoadBPEFiles(f *testing.F) {
	dir := f.TempDir()
	if err := tinygpt2.WriteVocabMerges(dir); err != nil {
		f.Fatal(err)
	}
	vocab, _ := os.ReadFile(filepath.Join(dir, "vocab.json"))
	merges, _ := os.ReadFile(filepath.Join(dir, "merges.txt"))
	f.Add(vocab, merges)
	f.Add(vocab, []byte("#version: 0.2\nh e\nbad\n"))
	f.Add([]byte(`{"a": -1}`), []byte(""))
	vp, mp := filepath.Join(dir, "v.json"), filepath.Join(dir, "m.txt")
	f.Fuzz(func(t *testing.T, vocab, merges []byte) {
		os.WriteFile(vp, vocab, 0o644)
		os.WriteFile(mp, merges, 0o644)
		b, err := LoadBPEFiles(vp, mp)
		if err != nil {
			return
		}
		exerciseBPE(t, b)
	})
}

func exerciseBPE(t *testing.T, b *BPE) {
	t.Helper()
	for _, text := range []string{"hello world", "it's 日本 \x00\xff", EndOfText + " a"} {
		ids, err := b.Encode(text)
		if err != nil {
			continue
		}
		for _, id := range ids {
			if id < 0 || int(id) >= b.VocabSize() {
				t.Fatalf("Encode(%q) gave id %d outside the vocabulary of %d", text, id, b.VocabSize())
			}
		}
		b.Decode(ids)
	}
	if _, err := b.Marshal(); err != nil {
		t.Fatal(err)
	}
}
