package datasets

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestNewTokenizer(t *testing.T) {
	tok := NewTokenizer([]string{"b", "a", "<q>", "b", "", "SORT", "->"})
	want := []string{"<pad>", "<bos>", "<eos>", "<q>", "<a>", "->", "SORT", "a", "b"}
	if got := tok.Words(); !slices.Equal(got, want) {
		t.Fatalf("Words() = %q, want %q", got, want)
	}
	if tok.VocabSize() != len(want) {
		t.Errorf("VocabSize() = %d, want %d", tok.VocabSize(), len(want))
	}
	for word, id := range map[string]int32{PadToken: PadID, BOSToken: BOSID, EOSToken: EOSID, QToken: QID, AToken: AID, "a": 7} {
		if got, ok := tok.ID(word); !ok || got != id {
			t.Errorf("ID(%q) = %d, %v, want %d, true", word, got, ok, id)
		}
	}
	if _, ok := tok.ID("zz"); ok {
		t.Error(`ID("zz") found a word that is not in the vocabulary`)
	}
}

func TestBuildTokenizer(t *testing.T) {
	tok := BuildTokenizer("<bos> b a <eos>", "  c\tb\n", "")
	if want := NewTokenizer([]string{"a", "b", "c"}); !tok.Equal(want) {
		t.Fatalf("BuildTokenizer words = %q, want %q", tok.Words(), want.Words())
	}
}

func TestTokenizerRoundTrip(t *testing.T) {
	tok := BuildTokenizer("REV a b c = c b a ;", "<q> SORT 3 1 <a> 1 3 <eos>")
	for _, text := range []string{
		"REV a b c = c b a ;",
		"<bos> <q> SORT 3 1 <a>",
		"1 3 <eos> <pad> <pad>",
		"",
	} {
		ids, err := tok.Encode(text)
		if err != nil {
			t.Fatalf("Encode(%q): %v", text, err)
		}
		if got := tok.Decode(ids); got != text {
			t.Errorf("Decode(Encode(%q)) = %q", text, got)
		}
	}
	// Extra whitespace is not preserved: words are what count.
	if ids, _ := tok.Encode("  a \t b\n"); tok.Decode(ids) != "a b" {
		t.Errorf("Decode(Encode(spaced)) = %q, want %q", tok.Decode(ids), "a b")
	}
}

func TestTokenizerUnknownWord(t *testing.T) {
	tok := BuildTokenizer("a b")
	_, err := tok.Encode("a zz b")
	if err == nil || !strings.Contains(err.Error(), `unknown word "zz"`) || !strings.Contains(err.Error(), "7 words") {
		t.Fatalf(`Encode("a zz b") error = %v, want one naming "zz" and the vocabulary size 7`, err)
	}
}

func TestTokenizerDecodeBadID(t *testing.T) {
	tok := BuildTokenizer("a")
	if got, want := tok.Decode([]int32{5, 99, -1, EOSID}), "a <id:99> <id:-1> <eos>"; got != want {
		t.Errorf("Decode = %q, want %q", got, want)
	}
}

func TestTokenizerSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	tok := BuildTokenizer("REV a b c = c b a ; -> the")
	if err := tok.Save(path); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), `"<pad>"`) {
		t.Errorf("saved tokenizer escapes the special tokens: %s", data)
	}
	got, err := LoadTokenizer(path)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(tok) {
		t.Errorf("loaded words %q, want %q", got.Words(), tok.Words())
	}
	if got.Equal(BuildTokenizer("a")) {
		t.Error("Equal is true for different vocabularies")
	}
}

func TestLoadTokenizerErrors(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"bad JSON", `{"words": [`, "unexpected EOF"},
		{"unknown field", `{"words": [], "extra": 1}`, `unknown field "extra"`},
		{"no specials", `{"words": ["a", "b"]}`, "special tokens"},
		{"specials out of order", `{"words": ["<bos>", "<pad>", "<eos>", "<q>", "<a>"]}`, "special tokens"},
		{"duplicate", `{"words": ["<pad>", "<bos>", "<eos>", "<q>", "<a>", "x", "x"]}`, `"x" appears twice`},
		{"whitespace", `{"words": ["<pad>", "<bos>", "<eos>", "<q>", "<a>", "x y"]}`, "whitespace"},
		{"empty word", `{"words": ["<pad>", "<bos>", "<eos>", "<q>", "<a>", ""]}`, "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tok.json")
			if err := os.WriteFile(path, []byte(tc.data), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadTokenizer(path)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadTokenizer error = %v, want one naming the file and containing %q", err, tc.want)
			}
		})
	}
}

func TestChatTemplate(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{ChatPrompt("SORT b a"), "<bos> <q> SORT b a <a>"},
		{ChatResponse("a b"), "a b <eos>"},
		{CorpusText("<q> x <a> y"), "<bos> <q> x <a> y <eos>"},
		{DocPrompt("REV a b c"), "<bos> REV a b c ="},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
