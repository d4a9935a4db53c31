package datasets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Tokenizer is a word-level tokenizer: a text is split on whitespace and every word is one token.
// Ids 0..4 are the special tokens ([PadID] … [AID]).
type Tokenizer struct {
	words []string
	ids   map[string]int32
}

// NewTokenizer returns a tokenizer with the special tokens first (ids 0..4), then the given words
// deduplicated and sorted lexicographically. Special tokens and empty strings among words are
// ignored; words must not contain whitespace.
func NewTokenizer(words []string) *Tokenizer {
	extra := make([]string, 0, len(words))
	for _, w := range words {
		if w != "" && !slices.Contains(specials[:], w) {
			extra = append(extra, w)
		}
	}
	slices.Sort(extra)
	return newTokenizer(slices.Concat(specials[:], slices.Compact(extra)))
}

// newTokenizer indexes words, which the caller has checked.
func newTokenizer(words []string) *Tokenizer {
	t := &Tokenizer{words: words, ids: make(map[string]int32, len(words))}
	for i, w := range words {
		t.ids[w] = int32(i)
	}
	return t
}

// BuildTokenizer returns the tokenizer of every whitespace-separated word in texts.
func BuildTokenizer(texts ...string) *Tokenizer {
	seen := map[string]bool{}
	for _, text := range texts {
		for _, w := range strings.Fields(text) {
			seen[w] = true
		}
	}
	words := make([]string, 0, len(seen))
	for w := range seen {
		words = append(words, w)
	}
	return NewTokenizer(words)
}

// Encode returns the ids of the words of text. An unknown word is an error that names it.
func (t *Tokenizer) Encode(text string) ([]int32, error) {
	fields := strings.Fields(text)
	ids := make([]int32, len(fields))
	for i, w := range fields {
		id, ok := t.ids[w]
		if !ok {
			return nil, fmt.Errorf("unknown word %q (not in the vocabulary of %d words)", w, len(t.words))
		}
		ids[i] = id
	}
	return ids, nil
}

// Decode returns the space-joined words of ids. An id outside the vocabulary decodes to "<id:N>" so
// that a bad id stays visible instead of failing a whole evaluation.
func (t *Tokenizer) Decode(ids []int32) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(' ')
		}
		if id >= 0 && int(id) < len(t.words) {
			b.WriteString(t.words[id])
		} else {
			b.WriteString("<id:" + strconv.Itoa(int(id)) + ">")
		}
	}
	return b.String()
}

// Words returns all words by id.
func (t *Tokenizer) Words() []string { return slices.Clone(t.words) }

// VocabSize returns the number of words, special tokens included.
func (t *Tokenizer) VocabSize() int { return len(t.words) }

// ID returns the id of word and whether it is in the vocabulary.
func (t *Tokenizer) ID(word string) (int32, bool) {
	id, ok := t.ids[word]
	return id, ok
}

// Equal reports whether both tokenizers map the same words to the same ids.
func (t *Tokenizer) Equal(o *Tokenizer) bool { return slices.Equal(t.words, o.words) }

// tokenizerFile is the JSON form of a tokenizer.
type tokenizerFile struct {
	Words []string `json:"words"`
}

// Save writes the tokenizer to path as JSON {"words": [...]}, atomically.
func (t *Tokenizer) Save(path string) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "<pad>" readable
	if err := enc.Encode(tokenizerFile{Words: t.words}); err != nil {
		return err
	}
	return WriteFileAtomic(path, buf.Bytes())
}

// LoadTokenizer reads a tokenizer written by [Tokenizer.Save]. The words keep the file's order; the
// special tokens must be the first five, and no word may repeat or contain whitespace.
func LoadTokenizer(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f tokenizerFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(f.Words) < len(specials) || !slices.Equal(f.Words[:len(specials)], specials[:]) {
		return nil, fmt.Errorf("%s: the first words must be the special tokens %q", path, specials)
	}
	seen := make(map[string]bool, len(f.Words))
	for i, w := range f.Words {
		if w == "" || strings.ContainsFunc(w, unicode.IsSpace) {
			return nil, fmt.Errorf("%s: word %d (%q) is empty or contains whitespace", path, i, w)
		}
		if seen[w] {
			return nil, fmt.Errorf("%s: word %q appears twice", path, w)
		}
		seen[w] = true
	}
	return newTokenizer(f.Words), nil
}
