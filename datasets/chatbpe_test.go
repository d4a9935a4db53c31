package datasets

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/gosrppo/gosrppo/internal/tinyllama"
)

// TestLlamaPreTokenize checks the hand-written matchers of Llama 3's, Qwen2's and SmolLM2's
// pre-tokenizers on hand-split texts (the npm comparison, TestRealTokenizers, covers thousands).
func TestLlamaPreTokenize(t *testing.T) {
	text := "I'M 12345  ok\n\n x!!\nwe'Re\tcafé's 中文😀 \r\n"
	for _, tc := range []struct {
		split splitPattern
		want  []string
	}{
		{splitLlama3, []string{"I", "'M", " ", "123", "45", " ", " ok", "\n\n", " x", "!!\n", "we", "'Re", "\tcafé", "'s", " 中文", "😀", " \r\n"}},
		{splitQwen2, []string{"I", "'M", " ", "1", "2", "3", "4", "5", " ", " ok", "\n\n", " x", "!!\n", "we", "'Re", "\tcafé", "'s", " 中文", "😀", " \r\n"}},
		{splitDigitsGPT2, []string{"I", "'", "M", " ", "1", "2", "3", "4", "5", " ", " ok", "\n\n", " x", "!!", "\n", "we", "'", "Re", "\t", "café", "'s", " 中文", "😀", " \r\n"}},
	} {
		b := &BPE{split: tc.split}
		if got := b.preTokenize(text); !slices.Equal(got, tc.want) {
			t.Errorf("pattern %d:\n got  %q\n want %q", tc.split, got, tc.want)
		}
	}
}

// smolTokenizerJSON is a tiny tokenizer.json in SmolLM2's layout: no normalizer, Digits
// (individual) then GPT-2's ByteLevel.
func smolTokenizerJSON(t *testing.T) []byte {
	var f map[string]any
	if err := json.Unmarshal(tinyllama.TokenizerJSON("qwen2"), &f); err != nil {
		t.Fatal(err)
	}
	f["normalizer"] = nil
	f["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
		map[string]any{"type": "Digits", "individual_digits": true},
		map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}}}
	data, _ := json.Marshal(f)
	return data
}

// SmolLM2's shipped chat template.
const smolTemplate = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"

// TestChatTemplates renders prompts and responses of the supported templates (SmolLM2's default
// system message, Qwen2.5-style ChatML, Qwen3's non-thinking prompt, Llama 3) and refuses the
// unsupported ones naming chat_template.
func TestChatTemplates(t *testing.T) {
	cfg := func(tpl string) []byte { b, _ := json.Marshal(map[string]any{"chat_template": tpl}); return b }
	// The JSON-decoded templates hold "\n" as the two characters backslash-n inside Jinja strings.
	jinja := func(s string) string { return strings.ReplaceAll(s, "\n", `\n`) }
	smol, err := ParseChatBPE(smolTokenizerJSON(t), cfg(jinja(smolTemplate)), "smol")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, family, tpl, prompt, response string
	}{
		{"smollm2", "", jinja(smolTemplate), "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\n Hi 12 <|im_end|>\n<|im_start|>assistant\n", "yes<|im_end|>"},
		{"qwen2.5-style", "qwen2", tinyllama.Qwen2Template, "<|im_start|>system\nYou are a tiny helper.<|im_end|>\n<|im_start|>user\n Hi 12 <|im_end|>\n<|im_start|>assistant\n", "yes<|im_end|>"},
		{"qwen3", "qwen3", tinyllama.Qwen3Template, "<|im_start|>user\n Hi 12 <|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n", "yes<|im_end|>"},
		{"llama3", "llama", tinyllama.Llama3Template, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi 12<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", "yes<|eot_id|>"},
	} {
		b := smol
		if tc.family != "" {
			if b, err = ParseChatBPE(tinyllama.TokenizerJSON(tc.family), cfg(tc.tpl), tc.name); err != nil {
				t.Fatal(err)
			}
		}
		p, _ := b.EncodePrompt(" Hi 12 ")
		r, _ := b.EncodeResponse("yes")
		if got := b.Decode(p); got != tc.prompt {
			t.Errorf("%s prompt %q, want %q", tc.name, got, tc.prompt)
		}
		if got := b.Decode(r); got != tc.response || r[len(r)-1] != b.EOS() {
			t.Errorf("%s response %q (EOS %d), want %q", tc.name, got, b.EOS(), tc.response)
		}
		for _, id := range b.NonResponseIDs() {
			if id == b.EOS() {
				t.Errorf("%s: the EOS is listed as a non-response id", tc.name)
			}
		}
		if want := len(tinyllama.SpecialTokens(map[string]string{"": "qwen2"}[tc.family]+tc.family)) - 1; len(b.NonResponseIDs()) != want {
			t.Errorf("%s: %d non-response ids, want %d (every added token but the EOS)", tc.name, len(b.NonResponseIDs()), want)
		}
	}
	if ids, _ := smol.Encode("a 12"); len(ids) != 4 { // "a", " ", "1", "2": digits one by one
		t.Errorf("SmolLM2 split of %q: %v", "a 12", ids)
	}
	for _, tpl := range []string{"{{ messages }}", "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023"} {
		if _, err := ParseChatBPE(tinyllama.TokenizerJSON("llama"), cfg(tpl), "x"); err == nil || !strings.Contains(err.Error(), "chat_template") {
			t.Errorf("template %q: %v", tpl, err)
		}
	}
}
