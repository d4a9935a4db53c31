package datasets

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// EndOfText is GPT-2's only special token: it separates documents in pretraining, so it serves as
// both the start and the end (EOS) of a sequence.
const EndOfText = "<|endoftext|>"

// Free-text chat template of [BPE] models: a prompt becomes
// "<|endoftext|>Question: {prompt}\nAnswer:" and its response " {response}<|endoftext|>".
const (
	QuestionPrefix = "Question: "
	AnswerPrefix   = "\nAnswer:"
)

// BPE is the byte-level BPE tokenizer of the GPT-2 family, read from a Hugging Face tokenizer.json
// ([LoadBPE]) or from vocab.json and merges.txt ([LoadBPEFiles]). Text is split by GPT-2's
// pre-tokenization pattern, each piece's UTF-8 bytes are mapped to printable characters, and
// merges are applied by rank, so every text encodes (and decodes back exactly).
//
// It is written here rather than taken from github.com/gomlx/go-huggingface v0.4.1's hftokenizer,
// whose ByteLevel pre-tokenizer splits on spaces only and ignores GPT-2's pattern (use_regex):
// contractions, digits, punctuation and newlines would be grouped differently from transformers'
// tokenizer, giving different ids.
type BPE struct {
	tokens []string // by id ("" where no token has the id)
	vocab  map[string]int32
	ranks  map[[2]string]int // merge pair → rank (lower merges first)
	added  map[string]int32  // added tokens: matched verbatim in text, decoded verbatim
	byLen  []string          // added tokens, longest first
	eos    int32
	raw    []byte   // the tokenizer.json
	digest [32]byte // of vocabulary, merges and added tokens (Equal)

	// Llama-family settings (zero for the GPT-2 family; see chatbpe.go).
	split        splitPattern // the pre-tokenizer's pattern
	nfc          bool         // NFC normalizer (Qwen)
	ignoreMerges bool         // a piece that is itself in the vocabulary is one token (Llama 3)
	chat         *chatTemplate
	rawConfig    []byte // tokenizer_config.json (chat models)

	mu    sync.Mutex
	cache map[string][]int32 // pre-tokenized piece → ids
}

// hfTokenizerFile is the part of a Hugging Face tokenizer.json that byte-level BPE needs.
type hfTokenizerFile struct {
	AddedTokens []struct {
		ID      int32  `json:"id"`
		Content string `json:"content"`
	} `json:"added_tokens"`
	Normalizer   json.RawMessage `json:"normalizer"`
	PreTokenizer *hfPreTokenizer `json:"pre_tokenizer"`
	Decoder      *struct {
		Type string `json:"type"`
	} `json:"decoder"`
	Model struct {
		Type                    string           `json:"type"`
		Vocab                   map[string]int32 `json:"vocab"`
		Merges                  json.RawMessage  `json:"merges"`
		ContinuingSubwordPrefix string           `json:"continuing_subword_prefix"`
		EndOfWordSuffix         string           `json:"end_of_word_suffix"`
		IgnoreMerges            bool             `json:"ignore_merges"`
		ByteFallback            bool             `json:"byte_fallback"`
	} `json:"model"`
}

// LoadBPE reads a Hugging Face tokenizer.json of the GPT-2 family (byte-level BPE).
func LoadBPE(path string) (*BPE, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseBPE(data, path)
}

// ParseBPE parses the content of a byte-level BPE tokenizer.json; name labels errors. Other
// tokenizer models (WordPiece, Unigram), normalizers and pre-tokenizers are rejected with an
// error naming the field.
func ParseBPE(data []byte, name string) (*BPE, error) {
	b, err := parseBPE(data, name)
	if err != nil {
		return nil, err
	}
	id, ok := b.vocab[EndOfText]
	if !ok {
		return nil, fmt.Errorf("%s: no %q token (the GPT-2 family's end of text)", name, EndOfText)
	}
	b.eos = id
	return b, nil
}

// parseBPE parses a byte-level BPE tokenizer.json: GPT-2's (ByteLevel pre-tokenizer with its
// regex) or the Llama family's (a Split with Llama 3's or Qwen2's pattern, then ByteLevel without
// regex; an NFC normalizer; ignore_merges).
func parseBPE(data []byte, name string) (*BPE, error) {
	data = TrimBOM(data)
	var f hfTokenizerFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	m := f.Model
	split, err := f.PreTokenizer.pattern()
	if err != nil {
		return nil, fmt.Errorf("%s: pre_tokenizer: %w", name, err)
	}
	var normalizer struct {
		Type string `json:"type"`
	}
	json.Unmarshal(f.Normalizer, &normalizer)
	nfc := normalizer.Type == "NFC"
	switch {
	case m.Type != "BPE":
		return nil, fmt.Errorf("%s: model.type %q: only byte-level BPE (the GPT-2 and Llama 3/Qwen families) is supported", name, m.Type)
	case len(f.Normalizer) > 0 && string(f.Normalizer) != "null" && (!nfc || split == splitGPT2):
		return nil, fmt.Errorf("%s: normalizer %s: only none (GPT-2, Llama 3) and NFC with Qwen2's pre-tokenizer are supported", name, f.Normalizer)
	case f.Decoder != nil && f.Decoder.Type != "ByteLevel":
		return nil, fmt.Errorf("%s: decoder.type %q: byte-level BPE needs the ByteLevel decoder", name, f.Decoder.Type)
	case m.ContinuingSubwordPrefix != "" || m.EndOfWordSuffix != "":
		return nil, fmt.Errorf("%s: model: continuing_subword_prefix and end_of_word_suffix are not supported", name)
	case m.IgnoreMerges && split == splitGPT2:
		return nil, fmt.Errorf("%s: model.ignore_merges with GPT-2's pre-tokenizer is not supported", name)
	case m.ByteFallback:
		return nil, fmt.Errorf("%s: model.byte_fallback: byte-level BPE has every byte in its vocabulary; SentencePiece-style byte fallback is not supported", name)
	case len(m.Vocab) == 0:
		return nil, fmt.Errorf("%s: model.vocab is empty", name)
	}
	merges, err := parseMerges(m.Merges)
	if err != nil {
		return nil, fmt.Errorf("%s: model.merges: %w", name, err)
	}
	// Ids are dense: the vocabulary's, then added tokens' (which may repeat vocabulary entries).
	maxID := len(m.Vocab) + len(f.AddedTokens)
	b := &BPE{tokens: make([]string, maxID), vocab: map[string]int32{}, ranks: make(map[[2]string]int, len(merges)),
		added: map[string]int32{}, raw: slices.Clone(data), cache: map[string][]int32{}, split: split, nfc: nfc, ignoreMerges: m.IgnoreMerges}
	set := func(tok string, id int32) error {
		if id < 0 || int(id) >= maxID {
			return fmt.Errorf("%s: token %q has id %d, outside 0…%d", name, tok, id, maxID-1)
		}
		if old, ok := b.vocab[tok]; ok && old != id {
			return fmt.Errorf("%s: token %q has ids %d and %d", name, tok, old, id)
		}
		b.vocab[tok] = id
		if b.tokens[id] != "" && b.tokens[id] != tok {
			return fmt.Errorf("%s: id %d is both %q and %q", name, id, b.tokens[id], tok)
		}
		b.tokens[id] = tok
		return nil
	}
	for tok, id := range m.Vocab {
		if err := set(tok, id); err != nil {
			return nil, err
		}
	}
	for _, a := range f.AddedTokens {
		if a.Content == "" {
			return nil, fmt.Errorf("%s: added token %d is empty", name, a.ID)
		}
		if err := set(a.Content, a.ID); err != nil {
			return nil, err
		}
		b.added[a.Content] = a.ID
		b.byLen = append(b.byLen, a.Content)
	}
	for len(b.tokens) > 0 && b.tokens[len(b.tokens)-1] == "" {
		b.tokens = b.tokens[:len(b.tokens)-1]
	}
	slices.SortStableFunc(b.byLen, func(x, y string) int { return len(y) - len(x) })
	for i := range 256 {
		if _, ok := b.vocab[string(byteToUnicode[i])]; !ok {
			return nil, fmt.Errorf("%s: the vocabulary lacks the byte-level symbol %q of byte 0x%02x", name, string(byteToUnicode[i]), i)
		}
	}
	for rank, mg := range merges {
		if _, dup := b.ranks[mg]; !dup {
			b.ranks[mg] = rank
		}
	}
	h := sha256.New()
	for _, t := range b.tokens {
		h.Write([]byte(t + "\x00"))
	}
	h.Write([]byte{1})
	for _, mg := range merges {
		h.Write([]byte(mg[0] + " " + mg[1] + "\x00"))
	}
	h.Write([]byte{1})
	for _, a := range b.byLen {
		h.Write([]byte(a + "\x00"))
	}
	fmt.Fprintf(h, "\x01%d %v %v", split, nfc, m.IgnoreMerges)
	copy(b.digest[:], h.Sum(nil))
	return b, nil
}

// parseMerges reads model.merges as ["a b", …] or [["a", "b"], …].
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	var out [][2]string
	var strs []string
	if err := json.Unmarshal(raw, &strs); err == nil {
		for i, s := range strs {
			a, b, ok := strings.Cut(s, " ")
			if !ok || a == "" || b == "" {
				return nil, fmt.Errorf("merge %d (%q) is not two space-separated tokens", i, s)
			}
			out = append(out, [2]string{a, b})
		}
		return out, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("neither a list of \"a b\" strings nor of [a, b] pairs")
	}
	for i, p := range pairs {
		if len(p) != 2 || p[0] == "" || p[1] == "" {
			return nil, fmt.Errorf("merge %d (%q) is not a pair of tokens", i, p)
		}
		out = append(out, [2]string{p[0], p[1]})
	}
	return out, nil
}

// LoadBPEFiles reads GPT-2's original tokenizer files, vocab.json ({"token": id}) and merges.txt
// (one "a b" merge a line after a "#version" header), and returns the tokenizer with the
// tokenizer.json that Hugging Face's GPT-2 tokenizer has for them.
func LoadBPEFiles(vocabPath, mergesPath string) (*BPE, error) {
	data, err := os.ReadFile(vocabPath)
	if err != nil {
		return nil, err
	}
	var vocab map[string]int32
	if err := json.Unmarshal(TrimBOM(data), &vocab); err != nil {
		return nil, fmt.Errorf("%s: %w", vocabPath, err)
	}
	data, err = os.ReadFile(mergesPath)
	if err != nil {
		return nil, err
	}
	merges := []string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimRight(sc.Text(), "\r")
		if s == "" || (line == 1 && strings.HasPrefix(s, "#version")) {
			continue
		}
		merges = append(merges, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", mergesPath, err)
	}
	type added struct {
		ID         int32  `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	var addedTokens []added
	if id, ok := vocab[EndOfText]; ok {
		addedTokens = append(addedTokens, added{ID: id, Content: EndOfText, Normalized: true, Special: true})
	}
	byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	file := struct {
		Version       string         `json:"version"`
		Truncation    any            `json:"truncation"`
		Padding       any            `json:"padding"`
		AddedTokens   []added        `json:"added_tokens"`
		Normalizer    any            `json:"normalizer"`
		PreTokenizer  map[string]any `json:"pre_tokenizer"`
		PostProcessor map[string]any `json:"post_processor"`
		Decoder       map[string]any `json:"decoder"`
		Model         map[string]any `json:"model"`
	}{Version: "1.0", AddedTokens: addedTokens, PreTokenizer: byteLevel, PostProcessor: byteLevel, Decoder: byteLevel,
		Model: map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": "",
			"end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "vocab": vocab, "merges": merges}}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(file); err != nil {
		return nil, err
	}
	return ParseBPE(buf.Bytes(), vocabPath+" + "+mergesPath)
}

// VocabSize is one more than the largest id.
func (b *BPE) VocabSize() int { return len(b.tokens) }

// EOS is the id that ends a response: <|endoftext|> for GPT-2, the chat template's end of turn
// (<|eot_id|>, <|im_end|>) for the Llama family.
func (b *BPE) EOS() int32 { return b.eos }

// Equal reports whether o is a BPE with the same vocabulary, merges and added tokens.
func (b *BPE) Equal(o TextTokenizer) bool {
	ob, ok := o.(*BPE)
	return ok && ob != nil && ob.digest == b.digest
}

// Marshal returns the tokenizer.json the tokenizer was read from (or built from vocab.json and
// merges.txt): Hugging Face's tokenizers load it as GPT-2's.
func (b *BPE) Marshal() ([]byte, error) { return slices.Clone(b.raw), nil }

// Encode returns the ids of text. Added tokens written in the text (<|endoftext|>) become their
// ids, as in Hugging Face's tokenizers; everything else is byte-level BPE, so any text encodes.
func (b *BPE) Encode(text string) ([]int32, error) {
	var ids []int32
	for text != "" {
		at, tok := len(text), ""
		for _, a := range b.byLen { // longest first: the longest of those at the earliest index wins
			if i := strings.Index(text, a); i >= 0 && i < at {
				at, tok = i, a
			}
		}
		seg := text[:at]
		if b.nfc {
			seg = norm.NFC.String(seg)
		}
		for _, piece := range b.preTokenize(seg) {
			pieceIDs, err := b.encodePiece(piece)
			if err != nil {
				return nil, err
			}
			ids = append(ids, pieceIDs...)
		}
		if tok == "" {
			break
		}
		ids = append(ids, b.added[tok])
		text = text[at+len(tok):]
	}
	return ids, nil
}

// encodePiece applies the merges to one pre-tokenized piece (memoised: text repeats words).
func (b *BPE) encodePiece(piece string) ([]int32, error) {
	b.mu.Lock()
	ids, ok := b.cache[piece]
	b.mu.Unlock()
	if ok {
		return ids, nil
	}
	word := make([]string, len(piece))
	for i := range len(piece) {
		word[i] = string(byteToUnicode[piece[i]])
	}
	if b.ignoreMerges { // Llama 3: a piece that is a token is that token, whatever the merges say
		if id, ok := b.vocab[strings.Join(word, "")]; ok {
			word = word[:0]
			ids = []int32{id}
		}
	}
	for len(word) > 1 {
		best, bestRank := -1, math.MaxInt
		for i := range len(word) - 1 {
			if r, ok := b.ranks[[2]string{word[i], word[i+1]}]; ok && r < bestRank {
				best, bestRank = i, r
			}
		}
		if best < 0 {
			break
		}
		// Merge every occurrence of the best pair, left to right (GPT-2's bpe()).
		first, second := word[best], word[best+1]
		merged := make([]string, 0, len(word)-1)
		for i := 0; i < len(word); i++ {
			if i+1 < len(word) && word[i] == first && word[i+1] == second {
				merged = append(merged, first+second)
				i++
			} else {
				merged = append(merged, word[i])
			}
		}
		word = merged
	}
	if len(word) > 0 {
		ids = make([]int32, len(word))
	}
	for i, w := range word {
		id, ok := b.vocab[w]
		if !ok {
			return nil, fmt.Errorf("BPE: token %q of %q is not in the vocabulary (a merge without its result)", w, piece)
		}
		ids[i] = id
	}
	b.mu.Lock()
	b.cache[piece] = ids
	b.mu.Unlock()
	return ids, nil
}

// Decode returns the text of ids: each token's characters mapped back to bytes, added tokens
// verbatim. Bytes that do not form valid UTF-8 (a character cut between tokens) become U+FFFD;
// an id outside the vocabulary decodes to "<id:N>".
func (b *BPE) Decode(ids []int32) string {
	var buf []byte
	for _, id := range ids {
		if id < 0 || int(id) >= len(b.tokens) || b.tokens[id] == "" {
			buf = append(buf, "<id:"+strconv.Itoa(int(id))+">"...)
			continue
		}
		tok := b.tokens[id]
		if _, ok := b.added[tok]; ok {
			buf = append(buf, tok...)
			continue
		}
		for _, r := range tok {
			if c, ok := unicodeToByte[r]; ok {
				buf = append(buf, c)
			} else {
				buf = utf8.AppendRune(buf, r)
			}
		}
	}
	return strings.ToValidUTF8(string(buf), "\uFFFD")
}

// EncodePrompt encodes "<|endoftext|>Question: {prompt}\nAnswer:". The leading <|endoftext|> is
// what GPT-2 saw before every document in pretraining.
func (b *BPE) EncodePrompt(prompt string) ([]int32, error) {
	if b.chat != nil {
		return b.Encode(b.chat.prompt(prompt))
	}
	ids, err := b.Encode(QuestionPrefix + strings.TrimSpace(prompt) + AnswerPrefix)
	return append([]int32{b.eos}, ids...), err
}

// EncodeResponse encodes " {response}<|endoftext|>" (the space GPT-2 puts before a word).
func (b *BPE) EncodeResponse(response string) ([]int32, error) {
	if b.chat != nil {
		if b.chat.thinkStub && (strings.Contains(response, "<think>") || strings.Contains(response, "</think>")) {
			// Qwen3's template would move the text before </think> into the think block.
			return nil, fmt.Errorf("response %q contains <think> or </think>: Qwen3 responses are used in non-thinking mode (an empty think block ends the prompt)", response)
		}
		return b.Encode(b.chat.response(response))
	}
	ids, err := b.Encode(" " + strings.TrimSpace(response))
	return append(ids, b.eos), err
}

// EncodeDocument encodes "<|endoftext|>{text}<|endoftext|>".
func (b *BPE) EncodeDocument(text string) ([]int32, error) {
	if b.chat != nil {
		return b.Encode(b.chat.document(text))
	}
	ids, err := b.Encode(text)
	return append(append([]int32{b.eos}, ids...), b.eos), err
}

// byteToUnicode is GPT-2's bytes_to_unicode(): printable Latin-1 bytes map to themselves, the
// others (controls, space, …) to U+0100 onwards, so that every token is printable text ("Ġ" is
// the space).
var byteToUnicode, unicodeToByte = func() ([256]rune, map[rune]byte) {
	var fwd [256]rune
	back := map[rune]byte{}
	n := 0
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			fwd[b] = rune(b)
		} else {
			fwd[b] = rune(256 + n)
			n++
		}
		back[fwd[b]] = byte(b)
	}
	return fwd, back
}()

// contractions are the first alternatives of GPT-2's pattern, tried in this order after "'".
var contractions = []string{"s", "t", "re", "ve", "m", "ll", "d"}

// preTokenize splits text like GPT-2's pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// written out by hand because Go's regexp has no lookahead: a run of whitespace before a
// non-space leaves its last character to start the next piece (" world").
func preTokenize(text string) []string {
	var out []string
	for text != "" {
		n := pieceLen(text)
		out = append(out, text[:n])
		text = text[n:]
	}
	return out
}

// Character classes of the pattern.
const (
	classSpace = iota
	classLetter
	classNumber
	classOther
)

func charClass(r rune) int {
	switch {
	case unicode.IsSpace(r):
		return classSpace
	case unicode.IsLetter(r):
		return classLetter
	case unicode.IsNumber(r):
		return classNumber
	}
	return classOther
}

// pieceLen is the length in bytes of the pattern's match at the start of s (s is not empty).
func pieceLen(s string) int {
	r, size := utf8.DecodeRuneInString(s)
	if r == '\'' {
		for _, c := range contractions {
			if strings.HasPrefix(s[size:], c) {
				return size + len(c)
			}
		}
	}
	start := 0
	if r == ' ' && size < len(s) { // " ?" before a letter, number or other run
		if next, _ := utf8.DecodeRuneInString(s[size:]); charClass(next) != classSpace {
			start, r = size, next
		}
	}
	if c := charClass(r); c != classSpace {
		j := start
		for j < len(s) {
			r2, sz := utf8.DecodeRuneInString(s[j:])
			if charClass(r2) != c {
				break
			}
			j += sz
		}
		return j
	}
	j, last := 0, 0 // whitespace run: its end, and where its last character starts
	for j < len(s) {
		r2, sz := utf8.DecodeRuneInString(s[j:])
		if charClass(r2) != classSpace {
			break
		}
		last = j
		j += sz
	}
	if j == len(s) || last == 0 {
		return j // \s+(?!\S) to the end of the text, or \s+ of a single character
	}
	return last // \s+(?!\S): the run but its last character
}
