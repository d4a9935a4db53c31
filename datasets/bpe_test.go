package datasets

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gosrppo/gosrppo/internal/tinygpt2"
)

func tinyBPE(t *testing.T) *BPE {
	t.Helper()
	b, err := ParseBPE(tinygpt2.TokenizerJSON(false), "tiny tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestByteToUnicode(t *testing.T) {
	// GPT-2's map: printable bytes stand for themselves; byte 0 is the first of the others (U+0100),
	// the space the 33rd (U+0120 "Ġ"), newline "Ċ", and the soft hyphen 0xAD the 68th (U+0143).
	for b, want := range map[byte]rune{'a': 'a', '!': '!', 0xE9: 'é', 0: 'Ā', ' ': 'Ġ', '\n': 'Ċ', 0x7F: 'ġ', 0xAD: 'Ń'} {
		if got := byteToUnicode[b]; got != want {
			t.Errorf("byte 0x%02x → %q, want %q", b, got, want)
		}
		if unicodeToByte[want] != b {
			t.Errorf("%q → byte 0x%02x, want 0x%02x", want, unicodeToByte[want], b)
		}
	}
}

func TestPreTokenize(t *testing.T) {
	for text, want := range map[string][]string{
		"it's 42 apples!!  ok\n": {"it", "'s", " 42", " apples", "!!", " ", " ok", "\n"},
		"a\tb":                   {"a", "\t", "b"},
		"x  \n\ny":               {"x", "  \n", "\n", "y"},
		"I'll 're 'x":            {"I", "'ll", " '", "re", " '", "x"},
		"héllo wörld 日本 🙂":       {"héllo", " wörld", " 日本", " 🙂"},
		"3.14":                   {"3", ".", "14"},
		"  ":                     {"  "},
	} {
		if got := preTokenize(text); !slices.Equal(got, want) {
			t.Errorf("preTokenize(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestBPEMerges(t *testing.T) {
	b := tinyBPE(t)
	// By hand, merges by rank: 0 "h e", 1 "l o", 2 "he l", 3 "Ġ w", 4 "o r", 5 "Ġw or".
	//   "hello":  h e l l o → (h,e) rank 0: he l l o → (l,o) rank 1: he l lo → (he,l) rank 2: hel lo
	//             → no pair left: [hel lo]
	//   " world": Ġ w o r l d → (Ġ,w) 3: Ġw o r l d → (o,r) 4: Ġw or l d → (Ġw,or) 5: Ġwor l d
	//   "oh":     no merge applies: [o h]
	for text, want := range map[string][]string{
		"hello world": {"hel", "lo", "Ġwor", "l", "d"},
		"oh":          {"o", "h"},
		"hehe":        {"he", "he"},
	} {
		ids, err := b.Encode(text)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, id := range ids {
			got = append(got, b.tokens[id])
		}
		if !slices.Equal(got, want) {
			t.Errorf("Encode(%q) = %q, want %q", text, got, want)
		}
	}
	if ids, _ := b.Encode("hello world"); !slices.Equal(ids, []int32{258, 257, 261, 'l', 'd'}) {
		t.Errorf("Encode(hello world) ids = %v", ids)
	}
}

func TestBPERoundTrip(t *testing.T) {
	b := tinyBPE(t)
	for _, text := range []string{
		"hello world", "Question: what is 2+2?\nAnswer: 4", "  leading and trailing  \n\t",
		"héllo wörld 日本 🙂", "it's <|endoftext|> done<|endoftext|>", "\x00\x7f\u00ad", "",
	} {
		ids, err := b.Encode(text)
		if err != nil {
			t.Fatalf("Encode(%q): %v", text, err)
		}
		if got := b.Decode(ids); got != text {
			t.Errorf("Decode(Encode(%q)) = %q (ids %v)", text, got, ids)
		}
	}
	// The special token in text is its id, not its characters.
	if ids, _ := b.Encode("he<|endoftext|>he"); !slices.Equal(ids, []int32{256, tinygpt2.EOS, 256}) {
		t.Errorf("Encode with <|endoftext|> = %v", ids)
	}
	// A character cut between tokens decodes to U+FFFD; unknown ids stay visible.
	ids, _ := b.Encode("é")
	if got := b.Decode(ids[:1]) + b.Decode([]int32{-1, 999}); got != "\uFFFD<id:-1><id:999>" {
		t.Errorf("partial and unknown ids decode to %q", got)
	}
	if b.VocabSize() != tinygpt2.VocabSize || b.EOS() != tinygpt2.EOS {
		t.Errorf("VocabSize %d, EOS %d", b.VocabSize(), b.EOS())
	}
}

func TestBPETemplate(t *testing.T) {
	b := tinyBPE(t)
	p, err := b.EncodePrompt(" hello ")
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.EncodeResponse("world ")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.Decode(append(p, r...)), "<|endoftext|>Question: hello\nAnswer: world<|endoftext|>"; got != want {
		t.Errorf("prompt + response = %q, want %q", got, want)
	}
	if p[0] != b.EOS() || r[len(r)-1] != b.EOS() {
		t.Errorf("prompt %v should start and response %v end with EOS", p, r)
	}
	d, _ := b.EncodeDocument("hello")
	if got := b.Decode(d); got != "<|endoftext|>hello<|endoftext|>" {
		t.Errorf("document = %q", got)
	}
	if s := ScoreTokens(b, r, "  world", b.EOS()); !s.Exact || s.Length != len(r) {
		t.Errorf("ScoreTokens of the response = %+v", s)
	}
}

func TestBPEFileFormats(t *testing.T) {
	b := tinyBPE(t)
	dir := t.TempDir()
	if err := tinygpt2.WriteVocabMerges(dir); err != nil {
		t.Fatal(err)
	}
	fromFiles, err := LoadBPEFiles(filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt"))
	if err != nil {
		t.Fatal(err)
	}
	pairs, err := ParseBPE(tinygpt2.TokenizerJSON(true), "pairs")
	if err != nil {
		t.Fatal(err)
	}
	// vocab.json + merges.txt give a tokenizer.json that reads back as the same tokenizer.
	raw, _ := fromFiles.Marshal()
	path := filepath.Join(dir, "tokenizer.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	reread, err := LoadBPE(path)
	if err != nil {
		t.Fatal(err)
	}
	text := "hello world, it's 日本"
	want, _ := b.Encode(text)
	for name, other := range map[string]TextTokenizer{"vocab.json+merges.txt": fromFiles, "pair merges": pairs, "re-read": reread} {
		if !b.Equal(other) {
			t.Errorf("%s: not Equal to the tokenizer.json one", name)
		}
		if got, _ := other.Encode(text); !slices.Equal(got, want) {
			t.Errorf("%s: Encode = %v, want %v", name, got, want)
		}
	}
	if b.Equal(NewTokenizer(nil)) || NewTokenizer(nil).Equal(b) {
		t.Error("a BPE and a word tokenizer compare equal")
	}
}

func TestBPEErrors(t *testing.T) {
	good := string(tinygpt2.TokenizerJSON(false))
	for _, tc := range []struct{ name, json, want string }{
		{"wordpiece", strings.Replace(good, `"type":"BPE"`, `"type":"WordPiece"`, 1), `model.type "WordPiece"`},
		{"prefix space", strings.Replace(good, `"pre_tokenizer":{"add_prefix_space":false`, `"pre_tokenizer":{"add_prefix_space":true`, 1), "add_prefix_space"},
		{"normalizer", strings.Replace(good, `"normalizer":null`, `"normalizer":{"type":"NFC"}`, 1), "normalizer"},
		{"missing byte", strings.Replace(good, `"Ā":0,`, ``, 1), `byte-level symbol "Ā" of byte 0x00`},
		{"bad merge", strings.Replace(good, `"h e"`, `"he"`, 1), `merge 0 ("he")`},
		{"no eos", strings.ReplaceAll(good, `<|endoftext|>`, `<|end|>`), `no "<|endoftext|>" token`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.json == good {
				t.Fatal("the replacement did not apply")
			}
			_, err := ParseBPE([]byte(tc.json), "tok.json")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "tok.json: ") {
				t.Errorf("error %v, want one naming the file and containing %q", err, tc.want)
			}
		})
	}
}

// TestBPENonResponseIDs: every added token but the EOS can never be part of a response, whether
// tokenizer.json marks it special or not (Qwen3's <think> is an unmarked added token).
func TestBPENonResponseIDs(t *testing.T) {
	if ids := tinyBPE(t).NonResponseIDs(); len(ids) != 0 {
		t.Errorf("GPT-2's only special token is its EOS, got non-response ids %v", ids)
	}
	var f map[string]any
	if err := json.Unmarshal(tinygpt2.TokenizerJSON(false), &f); err != nil {
		t.Fatal(err)
	}
	n := len(tinyBPE(t).tokens)
	f["added_tokens"] = append(f["added_tokens"].([]any),
		map[string]any{"id": n, "content": "<|pad|>", "special": true},
		map[string]any{"id": n + 1, "content": "<|tool|>", "special": false})
	raw, _ := json.Marshal(f)
	b, err := ParseBPE(raw, "with added tokens")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.NonResponseIDs(), []int32{int32(n), int32(n + 1)}; !slices.Equal(got, want) {
		t.Errorf("NonResponseIDs = %v, want %v (<|pad|> and <|tool|>)", got, want)
	}
}
