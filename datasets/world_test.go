package datasets

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// small returns the named preset with a small corpus, so tests stay fast.
func small(t *testing.T, name string, corpusDocs int) World {
	t.Helper()
	w, err := Preset(name)
	if err != nil {
		t.Fatal(err)
	}
	w.CorpusDocs = corpusDocs
	return w
}

func generate(t *testing.T, w World, seed int64) *WorldData {
	t.Helper()
	d, err := w.Generate(seed)
	if err != nil {
		t.Fatalf("Generate(%d): %v", seed, err)
	}
	return d
}

func TestGenerateDeterministic(t *testing.T) {
	w := small(t, "lean", 300)
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	for i, seed := range []int64{1, 1, 2} {
		if err := generate(t, w, seed).WriteDir(dirs[i]); err != nil {
			t.Fatal(err)
		}
	}
	files := generate(t, w, 1).Files()
	if got := dirNames(t, dirs[0]); !slices.Equal(got, slices.Sorted(slices.Values(files))) {
		t.Fatalf("WriteDir wrote %q, Files() says %q", got, files)
	}
	for _, name := range files {
		a, _ := os.ReadFile(filepath.Join(dirs[0], name))
		b, _ := os.ReadFile(filepath.Join(dirs[1], name))
		c, _ := os.ReadFile(filepath.Join(dirs[2], name))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s: the same seed gave different (or empty) files", name)
		}
		// The vocabulary depends on the knobs only; everything else on the seed.
		if name != TokenizerFile && bytes.Equal(a, c) {
			t.Errorf("%s: seeds 1 and 2 gave identical files", name)
		}
	}
}

// parsePrompt returns a world prompt's operation, its argument length L and its arguments.
func parsePrompt(t *testing.T, prompt string) (op string, L int, args []string) {
	t.Helper()
	words := strings.Fields(prompt)
	op, args = words[0], words[1:]
	switch op {
	case "CNT":
		return op, len(args) - 1, args
	default:
		return op, len(args), args
	}
}

// checkPrompt checks that a prompt of split belongs there and returns its reference answer.
func checkPrompt(t *testing.T, w World, split, prompt string) []string {
	t.Helper()
	op, L, args := parsePrompt(t, prompt)
	ops, lens := w.InDomainOps, w.TrainLen
	switch split {
	case SplitOODOp:
		ops = w.OODOps
	case SplitOODLen:
		lens = w.OODLen
	}
	if !slices.Contains(ops, op) {
		t.Errorf("%s prompt %q: operation not in %v", split, prompt, ops)
	}
	if op == "ADD" {
		if split == SplitOODLen || L != 4 {
			t.Errorf("%s prompt %q: ADD takes 4 digits and has no out-of-domain length", split, prompt)
		}
	} else if L < lens[0] || L > lens[1] {
		t.Errorf("%s prompt %q: length %d not in %v", split, prompt, L, lens)
	}
	for _, a := range args {
		digit := slices.Contains(w.Digits, a)
		if !digit && !slices.Contains(w.Letters, a) || !digit && (op == "ADD" || slices.Contains(w.DigitOps, op)) {
			t.Errorf("%s prompt %q: argument %q not allowed", split, prompt, a)
		}
	}
	return refAnswer(t, op, args)
}

func TestSplits(t *testing.T) {
	for _, name := range PresetNames() {
		t.Run(name, func(t *testing.T) {
			w := small(t, name, 0)
			d := generate(t, w, 5)
			where := map[string]string{} // prompt → the part it first appeared in
			add := func(part, prompt string) {
				if prev, dup := where[prompt]; dup {
					t.Errorf("prompt %q is in %s and in %s", prompt, prev, part)
				}
				where[prompt] = part
			}

			largest := d.Demos[slices.Max(w.DemoSizes)]
			for _, n := range w.DemoSizes {
				if got := d.Demos[n]; len(got) != n || !slices.Equal(got, largest[:n]) {
					t.Errorf("demos_%d: %d demos, not a prefix of the largest set", n, len(got))
				}
			}
			for part, demos := range map[string][]Demo{"demos": largest, "held-out demos": d.HeldOut} {
				for _, demo := range demos {
					add(part, demo.Prompt)
					if want := checkPrompt(t, w, SplitID, demo.Prompt); demo.Response != strings.Join(want, " ") {
						t.Errorf("demo %q: response %q, want %q", demo.Prompt, demo.Response, want)
					}
				}
			}
			if len(d.HeldOut) != w.HeldOutDemos {
				t.Errorf("%d held-out demos, want %d", len(d.HeldOut), w.HeldOutDemos)
			}
			// The operations take turns, so even the smallest set is balanced.
			for _, op := range w.InDomainOps {
				n := 0
				for _, demo := range d.Demos[w.DemoSizes[0]] {
					if strings.HasPrefix(demo.Prompt, op+" ") {
						n++
					}
				}
				if n < w.DemoSizes[0]/len(w.InDomainOps) {
					t.Errorf("demos_%d has %d %s demos", w.DemoSizes[0], n, op)
				}
			}

			splitCount := map[string]int{}
			for _, it := range d.Eval {
				add("eval "+it.Split, it.Prompt)
				splitCount[it.Split]++
				op, L, _ := parsePrompt(t, it.Prompt)
				want := checkPrompt(t, w, it.Split, it.Prompt)
				if it.Answer != strings.Join(want, " ") || it.Op != op || it.Len != L {
					t.Errorf("eval item %+v: want answer %q, op %s, len %d", it, want, op, L)
				}
			}
			for _, s := range []string{SplitID, SplitOODOp, SplitOODLen} {
				if splitCount[s] != w.EvalPerSplit {
					t.Errorf("eval split %s has %d items, want %d", s, splitCount[s], w.EvalPerSplit)
				}
			}

			clear(splitCount)
			for _, p := range d.Prompts {
				add("pool", p.Prompt)
				splitCount[p.Split]++
				checkPrompt(t, w, p.Split, p.Prompt)
			}
			valCount := map[string]int{}
			for _, it := range d.Val {
				add("validation "+it.Split, it.Prompt)
				valCount[it.Split]++
				if want := checkPrompt(t, w, it.Split, it.Prompt); it.Answer != strings.Join(want, " ") {
					t.Errorf("validation item %+v: want answer %q", it, want)
				}
			}
			for _, s := range []string{SplitID, SplitOODOp, SplitOODLen} {
				if valCount[s] != w.ValPerSplit {
					t.Errorf("validation split %s has %d items, want %d", s, valCount[s], w.ValPerSplit)
				}
			}
			if len(d.Prompts) != w.PromptPool {
				t.Errorf("pool has %d prompts, want %d", len(d.Prompts), w.PromptPool)
			}
			for s, n := range splitCount {
				if n < w.PromptPool/3 || n > w.PromptPool/3+1 {
					t.Errorf("pool split %s has %d prompts, want a third of %d", s, n, w.PromptPool)
				}
			}
		})
	}
}

// TestGenerateExhaustsSmallCells fills every id prompt of a tiny space: operations and lengths
// whose prompts run out hand their turns to the others.
func TestGenerateExhaustsSmallCells(t *testing.T) {
	w := small(t, "lean", 0)
	w.TrainLen = [2]int{1, 2} // 3 operations × (16 + 256) = 816 id prompts
	w.EvalPerSplit, w.DemoSizes, w.HeldOutDemos, w.PromptPool, w.ValPerSplit = 500, []int{16, 316}, 0, 0, 0
	d := generate(t, w, 3)
	prompts := map[string]bool{}
	for _, it := range d.Eval {
		if it.Split == SplitID {
			prompts[it.Prompt] = true
		}
	}
	for _, demo := range d.Demos[316] {
		prompts[demo.Prompt] = true
	}
	if len(prompts) != 816 {
		t.Errorf("%d distinct id prompts, want all 816", len(prompts))
	}

	w.DemoSizes = []int{317}
	if _, err := w.Generate(3); err == nil || !strings.Contains(err.Error(), "demonstrations: need 317 unique prompts but only 316") {
		t.Errorf("overfull world: error = %v", err)
	}
	w.TrainLen = [2]int{1, 1}
	if _, err := w.Generate(3); err == nil || !strings.Contains(err.Error(), "eval split id: need 500 unique prompts but only 48") {
		t.Errorf("overfull world: error = %v", err)
	}
}

// checkFacts parses a fact document and checks every fact against the reference.
func checkFacts(t *testing.T, w World, text string, templates map[string]int) {
	t.Helper()
	words := strings.Fields(text)
	for len(words) > 0 {
		end := slices.Index(words, DocStop)
		if end < 0 {
			t.Fatalf("fact document %q: a fact without %q", text, DocStop)
		}
		fact := words[:end]
		words = words[end+1:]
		var tmpl, op string
		var args, ans []string
		switch arrow := slices.Index(fact, "->"); {
		case fact[0] == "the":
			is := slices.Index(fact, "is")
			tmpl, op, args, ans = "the", fact[1], fact[3:is], fact[is+1:]
		case arrow >= 0:
			tmpl, op, args, ans = "arrow", fact[arrow+1], fact[:arrow], fact[arrow+3:]
		default:
			eq := slices.Index(fact, "=")
			tmpl, op, args, ans = "eq", fact[0], fact[1:eq], fact[eq+1:]
		}
		templates[tmpl]++
		if !slices.Contains(w.Templates, tmpl) || !slices.Contains(w.Ops, op) {
			t.Errorf("fact %q: template %s or operation %s not in the world", fact, tmpl, op)
			continue
		}
		L := len(args) - opSpecs[op].lead
		if op != "ADD" && (L < w.CorpusLen[0] || L > w.CorpusLen[1]) {
			t.Errorf("fact %q: length %d not in %v", fact, L, w.CorpusLen)
		}
		if want := refAnswer(t, op, args); !slices.Equal(ans, want) {
			t.Errorf("fact %q: answer %q, want %q", fact, ans, want)
		}
	}
}

func TestCorpus(t *testing.T) {
	for _, name := range PresetNames() {
		t.Run(name, func(t *testing.T) {
			w := small(t, name, 3000)
			d := generate(t, w, 9)
			if len(d.Corpus) != w.CorpusDocs {
				t.Fatalf("%d documents, want %d", len(d.Corpus), w.CorpusDocs)
			}
			symbols := slices.Concat(w.Letters, w.Digits)
			allSymbols := func(words []string) bool {
				return !slices.ContainsFunc(words, func(s string) bool { return !slices.Contains(symbols, s) })
			}
			templates := map[string]int{}
			var facts, noise, chat int
			for _, doc := range d.Corpus {
				words := strings.Fields(doc.Text)
				if len(words) == 0 || len(words) > w.MaxDocWords {
					t.Fatalf("document of %d words (max %d): %q", len(words), w.MaxDocWords, doc.Text)
				}
				switch {
				case words[0] == QToken:
					chat++
					a := slices.Index(words, AToken)
					op := words[1]
					L := a - 2 - opSpecs[op].lead
					if !slices.Contains(w.Ops, op) || op != "ADD" && (L < w.CorpusLen[0] || L > w.CorpusLen[1]) {
						t.Errorf("chat-noise prompt %q: operation or length out of the world", doc.Text)
					}
					if n := len(words) - a - 1; n < w.ChatNoiseLen[0] || n > w.ChatNoiseLen[1] || !allSymbols(words[a+1:]) {
						t.Errorf("chat-noise document %q: want %v symbols after <a>", doc.Text, w.ChatNoiseLen)
					}
				case words[len(words)-1] == DocStop:
					facts++
					checkFacts(t, w, doc.Text, templates)
				default:
					noise++
					if n := len(words); n < w.NoiseLen[0] || n > w.NoiseLen[1] || !allSymbols(words) {
						t.Errorf("noise document %q: want %v symbols", doc.Text, w.NoiseLen)
					}
				}
			}
			for kind, tc := range map[string]struct {
				n    int
				want float64
			}{"facts": {facts, w.Mix.Facts}, "noise": {noise, w.Mix.Noise}, "chat noise": {chat, w.Mix.ChatNoise}} {
				if got := float64(tc.n) / float64(len(d.Corpus)); got < tc.want-0.03 || got > tc.want+0.03 {
					t.Errorf("%s: fraction %.3f, want %.2f", kind, got, tc.want)
				}
			}
			for _, tmpl := range w.Templates {
				if templates[tmpl] == 0 {
					t.Errorf("no %s facts", tmpl)
				}
			}
		})
	}
}

func TestTokenizerCoversWorld(t *testing.T) {
	for _, name := range PresetNames() {
		d := generate(t, small(t, name, 3000), 2)
		var texts []string
		for _, doc := range d.Corpus {
			texts = append(texts, CorpusText(doc.Text))
		}
		for _, demo := range slices.Concat(d.Demos[slices.Max(d.World.DemoSizes)], d.HeldOut) {
			texts = append(texts, ChatPrompt(demo.Prompt), ChatResponse(demo.Response))
		}
		for _, p := range d.Prompts {
			texts = append(texts, ChatPrompt(p.Prompt))
		}
		for _, it := range d.Eval {
			texts = append(texts, ChatPrompt(it.Prompt), ChatResponse(it.Answer), DocPrompt(it.Prompt))
		}
		for _, text := range texts {
			if _, err := d.Tokenizer.Encode(text); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		// The design builds the tokenizer from the files: that gives the same one.
		if built := BuildTokenizer(texts...); !built.Equal(d.Tokenizer) {
			t.Errorf("%s: tokenizer built from the texts %q, world's %q", name, built.Words(), d.Tokenizer.Words())
		}
	}
}

func TestWriteDirReadBack(t *testing.T) {
	d := generate(t, small(t, "full", 200), 4)
	dir := t.TempDir()
	if err := d.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	path := func(name string) string { return filepath.Join(dir, name) }
	if got, err := LoadCorpus(path(CorpusFile)); err != nil || !slices.Equal(got, d.Corpus) {
		t.Errorf("corpus read back differs: %v", err)
	}
	for n, demos := range d.Demos {
		if got, err := LoadDemos(path(DemosFile(n))); err != nil || !slices.Equal(got, demos) {
			t.Errorf("demos_%d read back differs: %v", n, err)
		}
	}
	if got, err := LoadDemos(path(HeldOutFile)); err != nil || !slices.Equal(got, d.HeldOut) {
		t.Errorf("held-out demos read back differ: %v", err)
	}
	if got, err := LoadPrompts(path(PromptsFile)); err != nil || !slices.Equal(got, d.Prompts) {
		t.Errorf("prompts read back differ: %v", err)
	}
	if got, err := LoadEval(path(EvalFile)); err != nil || !slices.Equal(got, d.Eval) {
		t.Errorf("eval read back differs: %v", err)
	}
	if got, err := LoadTokenizer(path(TokenizerFile)); err != nil || !got.Equal(d.Tokenizer) {
		t.Errorf("tokenizer read back differs: %v", err)
	}
	cfg, _ := os.ReadFile(path(WorldFile))
	if !bytes.Contains(cfg, []byte(`"seed": 4`)) || !bytes.Contains(cfg, []byte(`"ood_ops"`)) {
		t.Errorf("world.json lacks the seed or the knobs:\n%s", cfg)
	}
}

func TestPresetValidation(t *testing.T) {
	if _, err := Preset("huge"); err == nil || !strings.Contains(err.Error(), `"huge" (valid: lean, full)`) {
		t.Errorf("Preset(huge) error = %v", err)
	}
	for _, name := range PresetNames() {
		if w, _ := Preset(name); w.Validate() != nil {
			t.Errorf("preset %s: %v", name, w.Validate())
		}
	}
	for _, tc := range []struct {
		name   string
		preset string
		edit   func(w *World)
		want   string
	}{
		{"upper-case letter", "lean", func(w *World) { w.Letters = []string{"a", "B"} }, `"B" is not a letter`},
		{"repeated digit", "lean", func(w *World) { w.Digits = append(w.Digits, "3") }, `Digits: "3" appears twice`},
		{"unknown operation", "lean", func(w *World) { w.Ops = append(w.Ops, "MUL") }, `"MUL" is not a known operation`},
		{"in-domain op outside Ops", "lean", func(w *World) { w.InDomainOps = []string{"DUP"} }, `InDomainOps: "DUP" is not in Ops`},
		{"op in both domains", "lean", func(w *World) { w.OODOps = append(w.OODOps, "SORT") }, "SORT is both"},
		{"no OOD ops", "lean", func(w *World) { w.OODOps = nil }, "must not be empty"},
		{"ADD without all digits", "full", func(w *World) { w.Digits = w.Digits[:5] }, "ADD needs all ten Digits (its answers are decimal numbers)"},
		{"digit operation without digits", "lean", func(w *World) { w.Digits, w.DigitOps = nil, []string{"MAX"} }, "MAX needs Digits"},
		{"reversed range", "lean", func(w *World) { w.TrainLen = [2]int{4, 2} }, "TrainLen [4 2]"},
		{"zero length", "lean", func(w *World) { w.CorpusLen = [2]int{0, 6} }, "CorpusLen [0 6]"},
		{"overlapping lengths", "lean", func(w *World) { w.OODLen = [2]int{4, 6} }, "overlap"},
		{"no eq template", "full", func(w *World) { w.Templates = []string{"arrow", "the"} }, `"eq" is required`},
		{"unknown template", "lean", func(w *World) { w.Templates = append(w.Templates, "colon") }, `"colon" is not a known template`},
		{"mix does not sum to 1", "lean", func(w *World) { w.Mix.Noise = 0.2 }, "sum to 1"},
		{"negative mix", "lean", func(w *World) { w.Mix = Mix{Facts: 1.1, Noise: -0.1} }, "non-negative"},
		{"unsorted demo sizes", "lean", func(w *World) { w.DemoSizes = []int{64, 16} }, "DemoSizes"},
		{"repeated demo size", "lean", func(w *World) { w.DemoSizes = []int{16, 16} }, "DemoSizes"},
		{"negative pool", "lean", func(w *World) { w.PromptPool = -1 }, "must not be negative"},
		{"negative corpus", "lean", func(w *World) { w.CorpusDocs = -1 }, "CorpusDocs -1"},
		{"fact longer than a document", "full", func(w *World) { w.MaxDocWords, w.NoiseLen = 25, [2]int{8, 20} }, `MaxDocWords 25: a DUP fact at L=8 in template "the" has 29 words`},
		{"chat noise longer than a document", "lean", func(w *World) { w.MaxDocWords, w.NoiseLen = 16, [2]int{8, 16} }, "a chat-noise document of SORT at L=6 has up to 17 words"},
		{"noise longer than a document", "lean", func(w *World) { w.NoiseLen = [2]int{8, 63} }, "NoiseLen [8 63]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, _ := Preset(tc.preset)
			tc.edit(&w)
			err := w.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
			if _, gerr := w.Generate(1); gerr == nil || !strings.Contains(gerr.Error(), tc.want) {
				t.Errorf("Generate accepted an invalid world: %v", gerr)
			}
		})
	}
}

// TestPresetSizes generates both presets at full size: the corpora hold about 6M tokens and
// generation stays fast.
func TestPresetSizes(t *testing.T) {
	if testing.Short() {
		t.Skip("generates the full corpora")
	}
	for _, name := range PresetNames() {
		w, _ := Preset(name)
		start := time.Now()
		d := generate(t, w, 1)
		elapsed := time.Since(start)
		tokens := 0
		for _, doc := range d.Corpus {
			tokens += len(strings.Fields(doc.Text)) + 2 // <bos> and <eos>
		}
		t.Logf("%s: %d documents, %d tokens, generated in %v", name, len(d.Corpus), tokens, elapsed)
		if tokens < 5_700_000 || tokens > 6_300_000 {
			t.Errorf("%s corpus has %d tokens, want about 6M", name, tokens)
		}
		if elapsed > 10*time.Second {
			t.Errorf("%s took %v to generate, want under 10s", name, elapsed)
		}
	}
}

func ExampleWorld_Generate() {
	w := Lean()
	w.CorpusDocs = 2
	d, err := w.Generate(1)
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Tokenizer.VocabSize(), len(d.Demos[16]), len(d.Eval), len(d.Prompts))
	// Output: 30 16 1500 20000
}
