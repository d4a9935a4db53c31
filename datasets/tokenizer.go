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

// TextTokenizer is what the pipeline needs from a tokenizer: text to ids and back, and the chat
// template of its model family. The word-level [Tokenizer] of the synthetic worlds and the
// byte-level [BPE] of the GPT-2 family implement it.
type TextTokenizer interface {
	// Encode returns the ids of text; special tokens written in the text become their ids.
	Encode(text string) ([]int32, error)
	// Decode returns the text of ids; an id outside the vocabulary decodes to "<id:N>".
	Decode(ids []int32) string
	// VocabSize is the number of ids.
	VocabSize() int
	// EOS is the id that ends a response (and a document).
	EOS() int32
	// EncodePrompt applies the chat template to a prompt: the ids after which the response follows.
	EncodePrompt(prompt string) ([]int32, error)
	// EncodeResponse applies the chat template to a response: its ids followed by EOS.
	EncodeResponse(response string) ([]int32, error)
	// EncodeDocument wraps a pretraining document in the model family's delimiters.
	EncodeDocument(text string) ([]int32, error)
	// NonResponseIDs lists the ids that can never be part of a response: every special token of the
	// chat template except EOS. Samplers and scorers give them probability 0 in responses.
	NonResponseIDs() []int32
	// Equal reports whether o maps the same texts to the same ids.
	Equal(o TextTokenizer) bool
	// Marshal returns the tokenizer's tokenizer.json.
	Marshal() ([]byte, error)
}

// TokenTexts returns the text of each id on its own, for per-token displays: with the word
// tokenizer the words, with BPE the pieces (" the", "ing", …).
func TokenTexts(tok TextTokenizer, ids []int32) []string {
	out := make([]string, len(ids))
	for i := range ids {
		out[i] = tok.Decode(ids[i : i+1])
	}
	return out
}

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

// Equal reports whether o is a word tokenizer mapping the same words to the same ids.
func (t *Tokenizer) Equal(o TextTokenizer) bool {
	w, ok := o.(*Tokenizer)
	return ok && w != nil && slices.Equal(t.words, w.words)
}

// EOS is [EOSID].
func (t *Tokenizer) EOS() int32 { return EOSID }

// NonResponseIDs is every special token but <eos>: <pad>, <bos>, <q>, <a>.
func (t *Tokenizer) NonResponseIDs() []int32 { return []int32{PadID, BOSID, QID, AID} }

// EncodePrompt encodes [ChatPrompt](prompt): "<bos> <q> prompt <a>".
func (t *Tokenizer) EncodePrompt(prompt string) ([]int32, error) { return t.Encode(ChatPrompt(prompt)) }

// EncodeResponse encodes [ChatResponse](response): "response <eos>".
func (t *Tokenizer) EncodeResponse(response string) ([]int32, error) {
	return t.Encode(ChatResponse(response))
}

// EncodeDocument encodes [CorpusText](text): "<bos> text <eos>".
func (t *Tokenizer) EncodeDocument(text string) ([]int32, error) { return t.Encode(CorpusText(text)) }

// tokenizerFile is the JSON form of a tokenizer.
type tokenizerFile struct {
	Words []string `json:"words"`
}

// Marshal returns the tokenizer as JSON {"words": [...]}.
func (t *Tokenizer) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "<pad>" readable
	if err := enc.Encode(tokenizerFile{Words: t.words}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Save writes the tokenizer to path as JSON {"words": [...]}, atomically.
func (t *Tokenizer) Save(path string) error {
	data, err := t.Marshal()
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, data)
}

// LoadTokenizer reads a tokenizer written by [Tokenizer.Save]. The words keep the file's order; the
// special tokens must be the first five, and no word may repeat or contain whitespace.
func LoadTokenizer(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseTokenizer(data, path)
}

// parseTokenizer parses the JSON of a word tokenizer; path names it in errors.
func parseTokenizer(data []byte, path string) (*Tokenizer, error) {
	var f tokenizerFile
	dec := json.NewDecoder(bytes.NewReader(TrimBOM(data)))
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
