package datasets

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// splitPattern names a pre-tokenizer pattern that [BPE] implements by hand (Go's regexp has no
// lookahead, which every one of them uses for `\s+(?!\S)`).
type splitPattern int

const (
	splitGPT2       splitPattern = iota // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
	splitLlama3                         // llama3Pattern: digits in groups of up to three
	splitQwen2                          // qwen2Pattern: single digits
	splitDigitsGPT2                     // SmolLM2: ASCII digits isolated one by one, then GPT-2's pattern
)

// The Split patterns of Llama 3's and Qwen2's (Qwen2.5, Qwen3) tokenizer.json.
const (
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	qwen2Pattern  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// hfPreTokenizer is a tokenizer.json pre_tokenizer: ByteLevel, or a Sequence of a Split and a
// ByteLevel.
type hfPreTokenizer struct {
	Type           string `json:"type"`
	AddPrefixSpace bool   `json:"add_prefix_space"`
	UseRegex       *bool  `json:"use_regex"`
	Pattern        *struct {
		Regex  string `json:"Regex"`
		String string `json:"String"`
	} `json:"pattern"`
	Behavior         string           `json:"behavior"`
	IndividualDigits bool             `json:"individual_digits"`
	Invert           bool             `json:"invert"`
	PreTokenizers    []hfPreTokenizer `json:"pretokenizers"`
}

// pattern identifies the supported pre-tokenizers: GPT-2's ByteLevel with its own regex, or a
// Split with Llama 3's or Qwen2's pattern (behavior Isolated) followed by ByteLevel without regex.
func (p *hfPreTokenizer) pattern() (splitPattern, error) {
	switch {
	case p == nil:
		return 0, fmt.Errorf("missing (byte-level BPE needs ByteLevel)")
	case p.Type == "ByteLevel":
		if p.AddPrefixSpace || (p.UseRegex != nil && !*p.UseRegex) {
			return 0, fmt.Errorf("only GPT-2's settings (add_prefix_space false, use_regex true) are supported")
		}
		return splitGPT2, nil
	case p.Type != "Sequence" || len(p.PreTokenizers) != 2:
		return 0, fmt.Errorf("type %q: only ByteLevel or Sequence [Split, ByteLevel] are supported", p.Type)
	}
	sp, bl := p.PreTokenizers[0], p.PreTokenizers[1]
	if sp.Type == "Digits" { // SmolLM2: Digits (individual) then GPT-2's ByteLevel
		if !sp.IndividualDigits || bl.Type != "ByteLevel" || bl.AddPrefixSpace || (bl.UseRegex != nil && !*bl.UseRegex) {
			return 0, fmt.Errorf("a Digits pre-tokenizer is supported only as SmolLM2's: individual_digits true, then ByteLevel with add_prefix_space false and use_regex true")
		}
		return splitDigitsGPT2, nil
	}
	if bl.Type != "ByteLevel" || bl.AddPrefixSpace || bl.UseRegex == nil || *bl.UseRegex {
		return 0, fmt.Errorf("pretokenizers[1] must be ByteLevel with add_prefix_space false and use_regex false")
	}
	if sp.Type != "Split" || sp.Pattern == nil || sp.Behavior != "Isolated" || sp.Invert {
		return 0, fmt.Errorf("pretokenizers[0] must be a Split (behavior Isolated, invert false)")
	}
	switch sp.Pattern.Regex {
	case llama3Pattern:
		return splitLlama3, nil
	case qwen2Pattern:
		return splitQwen2, nil
	}
	return 0, fmt.Errorf("pretokenizers[0].pattern %q: only Llama 3's and Qwen2's patterns are implemented", sp.Pattern.Regex)
}

// preTokenize splits text into the pieces that BPE encodes separately.
func (b *BPE) preTokenize(text string) []string {
	switch b.split {
	case splitGPT2:
		return preTokenize(text)
	case splitDigitsGPT2:
		var out []string
		for text != "" {
			n := runOf(text, func(r rune) bool { return r < '0' || r > '9' }, -1)
			if n == 0 {
				n = 1 // one ASCII digit
			}
			out = append(out, preTokenize(text[:n])...)
			text = text[n:]
		}
		return out
	}
	digits := 3
	if b.split == splitQwen2 {
		digits = 1
	}
	var out []string
	for text != "" {
		n := llamaPieceLen(text, digits)
		out = append(out, text[:n])
		text = text[n:]
	}
	return out
}

func isLetter(r rune) bool { return unicode.IsLetter(r) }
func isNumber(r rune) bool { return unicode.IsNumber(r) }
func isCRLF(r rune) bool   { return r == '\r' || r == '\n' }

// runOf is the length in bytes of the run of characters satisfying in at the start of s, at most
// limit characters (limit < 0: no limit).
func runOf(s string, in func(rune) bool, limit int) int {
	j := 0
	for n := 0; j < len(s) && n != limit; n++ {
		r, sz := utf8.DecodeRuneInString(s[j:])
		if !in(r) {
			break
		}
		j += sz
	}
	return j
}

// llamaPieceLen is the length in bytes of the match at the start of s (not empty) of Llama 3's
// pattern (digits 3) or Qwen2's (digits 1), alternative by alternative:
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,digits} |
//	 ?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
func llamaPieceLen(s string, digits int) int {
	r, size := utf8.DecodeRuneInString(s)
	if r == '\'' {
		for _, c := range contractions { // ASCII case-insensitive
			if len(s)-size >= len(c) && strings.EqualFold(s[size:size+len(c)], c) {
				return size + len(c)
			}
		}
	}
	if isLetter(r) {
		return size + runOf(s[size:], isLetter, -1)
	}
	other := func(r rune) bool { return !unicode.IsSpace(r) && !isLetter(r) && !isNumber(r) }
	if !isCRLF(r) && !isNumber(r) {
		if n := runOf(s[size:], isLetter, -1); n > 0 {
			return size + n
		}
	}
	if isNumber(r) {
		return runOf(s, isNumber, digits)
	}
	start := 0
	if r == ' ' && size < len(s) {
		if next, _ := utf8.DecodeRuneInString(s[size:]); other(next) {
			start = size
		}
	}
	if n := runOf(s[start:], other, -1); n > 0 {
		j := start + n
		return j + runOf(s[j:], isCRLF, -1)
	}
	// A whitespace run: up to its last CR/LF if it has one (\s*[\r\n]+), else \s+(?!\S) | \s+.
	j, last, lastCRLF := 0, 0, -1
	for j < len(s) {
		r2, sz := utf8.DecodeRuneInString(s[j:])
		if !unicode.IsSpace(r2) {
			break
		}
		if isCRLF(r2) {
			lastCRLF = j + sz
		}
		last = j
		j += sz
	}
	switch {
	case lastCRLF > 0:
		return lastCRLF
	case j == len(s) || last == 0:
		return j
	}
	return last
}

// chatTemplate renders prompts and responses in a model family's chat format. The prompt is the
// conversation [user: prompt] rendered with add_generation_prompt, the response what a rendered
// [user, assistant] conversation adds to it, ending with the end-of-turn token (the EOS).
type chatTemplate struct {
	kind      string // "llama3" or "chatml"
	bos       string // prepended to the prompt (Llama 3's <|begin_of_text|>)
	system    string // ChatML: the default system message the template inserts ("" for none)
	thinkStub bool   // Qwen3 non-thinking mode: an empty <think></think> opens the assistant turn
	eot       string // end of the assistant's turn: the response's EOS
	docStart  string // pretraining documents: start (may be "") and end tokens
	docEnd    string
}

func (c *chatTemplate) prompt(p string) string {
	if c.kind == "llama3" {
		return c.bos + "<|start_header_id|>user<|end_header_id|>\n\n" + strings.TrimSpace(p) + "<|eot_id|>" +
			"<|start_header_id|>assistant<|end_header_id|>\n\n"
	}
	var sb strings.Builder
	if c.system != "" {
		sb.WriteString("<|im_start|>system\n" + c.system + "<|im_end|>\n")
	}
	sb.WriteString("<|im_start|>user\n" + p + "<|im_end|>\n<|im_start|>assistant\n")
	if c.thinkStub {
		sb.WriteString("<think>\n\n</think>\n\n")
	}
	return sb.String()
}

func (c *chatTemplate) response(r string) string {
	if c.kind == "llama3" {
		return strings.TrimSpace(r) + c.eot
	}
	return r + c.eot
}

func (c *chatTemplate) document(text string) string { return c.docStart + text + c.docEnd }

// chatMLSystem finds the default system message a ChatML template inserts when the conversation
// has none: a string literal '<|im_start|>system\n…<|im_end|>\n' (Qwen2.5, SmolLM2).
var chatMLSystem = regexp.MustCompile(`'<\|im_start\|>system\\n([^'+]*?)<\|im_end\|>\\n'`)

// parseChatTemplate recognises a tokenizer_config.json chat_template: Llama 3's header-token
// template (without a system preamble) or ChatML (Qwen2.5, Qwen3, SmolLM2), with its default
// system message and Qwen3's thinking switch. Other templates are an error naming the field.
func parseChatTemplate(tpl string, b *BPE, name string) (*chatTemplate, error) {
	has := func(tok string) bool { _, ok := b.added[tok]; return ok }
	switch {
	case strings.Contains(tpl, "<|start_header_id|>"):
		if strings.Contains(tpl, "Cutting Knowledge Date") || strings.Contains(tpl, "system_message") {
			return nil, fmt.Errorf("%s: chat_template: Llama 3.1+'s template with a dated system preamble is not supported (only Llama 3's)", name)
		}
		for _, t := range []string{"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|end_of_text|>"} {
			if !has(t) {
				return nil, fmt.Errorf("%s: chat_template uses Llama 3's header tokens but %q is not an added token", name, t)
			}
		}
		return &chatTemplate{kind: "llama3", bos: "<|begin_of_text|>", eot: "<|eot_id|>", docStart: "<|begin_of_text|>", docEnd: "<|end_of_text|>"}, nil
	case strings.Contains(tpl, "<|im_start|>"):
		for _, t := range []string{"<|im_start|>", "<|im_end|>", EndOfText} {
			if !has(t) {
				return nil, fmt.Errorf("%s: chat_template is ChatML but %q is not an added token", name, t)
			}
		}
		c := &chatTemplate{kind: "chatml", eot: "<|im_end|>", docEnd: EndOfText}
		if m := chatMLSystem.FindStringSubmatch(tpl); m != nil {
			c.system = strings.NewReplacer(`\n`, "\n", `\'`, "'").Replace(m[1])
		}
		// Qwen3: SRPPO's responses are answers, so the non-thinking mode (enable_thinking=False)
		// is used; its generation prompt ends with an empty think block.
		c.thinkStub = strings.Contains(tpl, "enable_thinking")
		return c, nil
	}
	return nil, fmt.Errorf("%s: chat_template: only Llama 3's header-token template and ChatML are supported", name)
}

// LoadChatBPE reads a Llama-family tokenizer (Llama 3, Qwen2.5, Qwen3, SmolLM2) from dir:
// tokenizer.json (byte-level BPE with the family's pre-tokenizer) and tokenizer_config.json, whose
// chat_template decides the prompt and response format and the response's EOS.
func LoadChatBPE(dir string) (*BPE, error) {
	tokPath, cfgPath := filepath.Join(dir, "tokenizer.json"), filepath.Join(dir, "tokenizer_config.json")
	data, err := os.ReadFile(tokPath)
	if err != nil {
		return nil, err
	}
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("%s (its chat_template is needed): %w", cfgPath, err)
	}
	return ParseChatBPE(data, cfg, tokPath)
}

// ParseChatBPE parses the contents of tokenizer.json and tokenizer_config.json; name labels errors.
func ParseChatBPE(tokenizerJSON, configJSON []byte, name string) (*BPE, error) {
	b, err := parseBPE(tokenizerJSON, name)
	if err != nil {
		return nil, err
	}
	var tc struct {
		ChatTemplate json.RawMessage `json:"chat_template"`
	}
	if err := json.Unmarshal(configJSON, &tc); err != nil {
		return nil, fmt.Errorf("%s: tokenizer_config.json: %w", name, err)
	}
	var tpl string
	if err := json.Unmarshal(tc.ChatTemplate, &tpl); err != nil || tpl == "" {
		return nil, fmt.Errorf("%s: tokenizer_config.json: chat_template must be a non-empty string (named templates are not supported)", name)
	}
	if b.chat, err = parseChatTemplate(tpl, b, name); err != nil {
		return nil, err
	}
	b.eos = b.added[b.chat.eot]
	b.rawConfig = slices.Clone(configJSON)
	b.digest = sha256.Sum256(append(b.digest[:], tpl...)) // another template is another tokenizer (Equal)
	return b, nil
}

// MarshalConfig returns the tokenizer_config.json the tokenizer was read with (nil for GPT-2's).
func (b *BPE) MarshalConfig() ([]byte, error) {
	if b.rawConfig == nil {
		return nil, nil
	}
	return slices.Clone(b.rawConfig), nil
}

// BOS is the id the chat template starts a prompt with (Llama 3's <|begin_of_text|>), if any.
func (b *BPE) BOS() (int32, bool) {
	if b.chat == nil || b.chat.bos == "" {
		return 0, false
	}
	return b.added[b.chat.bos], true
}

// NonResponseIDs lists the ids that can never be part of a response: every added or special token
// (<|im_start|>, <|begin_of_text|>, <think>, reserved tokens, …) except the response's EOS.
func (b *BPE) NonResponseIDs() []int32 {
	var ids []int32
	for _, id := range b.added {
		if id != b.eos {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}
