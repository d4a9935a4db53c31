package datasets

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Split names of the world's evaluation items and pool prompts.
const (
	SplitID     = "id"      // in-domain operations, training lengths
	SplitOODOp  = "ood_op"  // out-of-domain operations, training lengths
	SplitOODLen = "ood_len" // in-domain operations, out-of-domain lengths
)

// World configures the synthetic operations world: a world where pretraining on documents gives
// the capability without the assistant format, SFT teaches the format from a few demonstrations,
// and out-of-domain success is checked by exact match (design §4). Every field is a knob; [Lean]
// and [Full] are the two presets.
//
// A prompt is "OP x1 … xn": an operation and its arguments, symbols drawn uniformly from Letters
// and Digits (or Digits only, see DigitOps). The argument length L is the length of the symbol
// list; CNT takes a digit d before its list, and ADD always takes four digits (L is 4 and never
// length-out-of-domain). The operations, with symbols ordered 0 < … < 9 < a < … < z:
//
//	FIRST x1 … xL = x1                  LAST x1 … xL = xL
//	MAX   x1 … xL = largest symbol      MIN  x1 … xL = smallest symbol
//	SORT  x1 … xL = ascending, repeats kept
//	REV   x1 … xL = xL … x1             DUP  x1 … xL = x1 x1 x2 x2 … xL xL
//	ADD   a1 a2 b1 b2 = digits of a1a2 + b1b2 (2-digit zero-padded operands, answer unpadded)
//	CNT   d x1 … xL = digits of the number of xi equal to d
//
// Generated data: a pretraining corpus of fact documents in the document format, noise
// documents and chat-noise documents; nested demonstration sets of in-domain prompts at training
// lengths; held-out demonstrations of the same kind (for choosing the SFT epoch); evaluation
// splits id, ood_op and ood_len; and a PPO prompt pool drawn like the three splits. Demonstrations,
// held-out demonstrations, evaluation items and pool prompts are pairwise disjoint and unique.
// The corpus is not filtered against them: the base model is meant to know every operation in
// the document format, and the study is about transferring that to the chat format.
type World struct {
	// Letters and Digits are the symbols arguments are drawn from: single characters a-z and 0-9.
	Letters []string `json:"letters"`
	Digits  []string `json:"digits"`
	// Ops are the operations of the corpus.
	Ops []string `json:"ops"`
	// InDomainOps are the operations of the demonstrations and of the id and ood_len splits.
	InDomainOps []string `json:"in_domain_ops"`
	// OODOps are the operations of the ood_op split; disjoint from InDomainOps.
	OODOps []string `json:"ood_ops"`
	// DigitOps are operations whose arguments are drawn from Digits only (ADD's always are).
	// ADD and CNT answer decimal numbers, so a world with them needs all ten Digits.
	DigitOps []string `json:"digit_ops,omitempty"`
	// TrainLen is the range of L (min, max inclusive) of demonstrations, id and ood_op.
	TrainLen [2]int `json:"train_len"`
	// OODLen is the range of L of the ood_len split; disjoint from TrainLen.
	OODLen [2]int `json:"ood_len"`
	// CorpusLen is the range of L of corpus facts and chat-noise prompts; covering OODLen lets the
	// base model see long arguments in the document format.
	CorpusLen [2]int `json:"corpus_len"`
	// Templates are the fact templates of the corpus, by name; each fact picks one uniformly.
	// "eq" is required (the document-format probe [DocPrompt] uses it):
	//	eq     REV a b c = c b a ;
	//	arrow  a b c -> REV -> c b a ;
	//	the    the REV of a b c is c b a ;
	Templates []string `json:"templates"`
	// CorpusDocs is the number of corpus documents.
	CorpusDocs int `json:"corpus_docs"`
	// FactsPerDoc is the range of facts in a fact document, before the MaxDocWords cap.
	FactsPerDoc [2]int `json:"facts_per_doc"`
	// MaxDocWords caps the words of a document so that it fits the model's context with <bos> and
	// <eos>: a fact that would cross it ends the document (the first fact is always kept), and
	// noise lengths must fit it.
	MaxDocWords int `json:"max_doc_words"`
	// Mix gives the fractions of document kinds; each document draws its kind independently.
	Mix Mix `json:"mix"`
	// NoiseLen is the range of symbols in a noise document.
	NoiseLen [2]int `json:"noise_len"`
	// ChatNoiseLen is the range of symbols after <a> in a chat-noise document.
	ChatNoiseLen [2]int `json:"chat_noise_len"`
	// DemoSizes are the demonstration set sizes N, ascending; smaller sets are prefixes of larger
	// ones, and the operations take turns so every prefix is balanced.
	DemoSizes []int `json:"demo_sizes"`
	// HeldOutDemos is the number of held-out demonstrations, drawn like the demonstrations.
	HeldOutDemos int `json:"held_out_demos"`
	// PromptPool is the number of PPO prompts, a third each drawn like id, ood_op and ood_len.
	PromptPool int `json:"prompt_pool"`
	// EvalPerSplit is the number of evaluation items in each of id, ood_op and ood_len.
	EvalPerSplit int `json:"eval_per_split"`
	// ValPerSplit is the number of validation items in each of id, ood_op and ood_len (val.jsonl):
	// prompts disjoint from the demonstrations, the pool and the eval splits, for choosing a
	// configuration without looking at the reported eval numbers. 0: no validation split.
	ValPerSplit int `json:"val_per_split,omitempty"`
}

// Mix gives the fractions of corpus document kinds; they sum to 1.
type Mix struct {
	// Facts: several facts in the document format.
	Facts float64 `json:"facts"`
	// Noise: a random string of symbols.
	Noise float64 `json:"noise"`
	// ChatNoise: "<q> OP args <a>" followed by unrelated symbols, so the chat markers are known
	// tokens but the base model has not seen the assistant format answer anything.
	ChatNoise float64 `json:"chat_noise"`
}

// maxLen bounds every length knob: far beyond any context the model has, and small enough that
// counting prompts cannot overflow.
const maxLen = 64

// Lean returns the default preset: letters a–f, digits 0–9, operations FIRST LAST MAX MIN SORT
// REV, in-domain FIRST SORT MAX, L in [2, 4] for training and [5, 6] out of domain, two
// templates, and a corpus of about 6M tokens (90% facts, 5% noise, 5% chat noise).
func Lean() World {
	return World{
		Letters:      strings.Split("abcdef", ""),
		Digits:       strings.Split("0123456789", ""),
		Ops:          []string{"FIRST", "LAST", "MAX", "MIN", "SORT", "REV"},
		InDomainOps:  []string{"FIRST", "SORT", "MAX"},
		OODOps:       []string{"LAST", "MIN", "REV"},
		TrainLen:     [2]int{2, 4},
		OODLen:       [2]int{5, 6},
		CorpusLen:    [2]int{2, 6},
		Templates:    []string{"eq", "arrow"},
		CorpusDocs:   144000,
		FactsPerDoc:  [2]int{3, 6},
		MaxDocWords:  62,
		Mix:          Mix{Facts: 0.90, Noise: 0.05, ChatNoise: 0.05},
		NoiseLen:     [2]int{8, 40},
		ChatNoiseLen: [2]int{1, 8},
		DemoSizes:    []int{16, 64, 256, 1024},
		HeldOutDemos: 256,
		PromptPool:   20000,
		EvalPerSplit: 500,
		ValPerSplit:  200,
	}
}

// Full returns the harder preset: letters a–h, operations REV SORT DUP FIRST LAST ADD MAX CNT
// (MAX and CNT on digits), in-domain REV SORT ADD FIRST, L in [2, 6] for training and [7, 8] out
// of domain, three templates, and a corpus of about 6M tokens (60% facts, 30% noise, 10% chat noise).
func Full() World {
	w := Lean()
	w.Letters = strings.Split("abcdefgh", "")
	w.Ops = []string{"REV", "SORT", "DUP", "FIRST", "LAST", "ADD", "MAX", "CNT"}
	w.InDomainOps = []string{"REV", "SORT", "ADD", "FIRST"}
	w.OODOps = []string{"DUP", "LAST", "MAX", "CNT"}
	w.DigitOps = []string{"MAX", "CNT"}
	w.TrainLen = [2]int{2, 6}
	w.OODLen = [2]int{7, 8}
	w.CorpusLen = [2]int{2, 8}
	w.Templates = []string{"eq", "arrow", "the"}
	w.CorpusDocs = 172000
	w.FactsPerDoc = [2]int{2, 5}
	w.Mix = Mix{Facts: 0.60, Noise: 0.30, ChatNoise: 0.10}
	return w
}

// presets maps preset names to their constructors; the first is the default.
var presets = []struct {
	name  string
	world func() World
}{{"lean", Lean}, {"full", Full}}

// PresetNames returns the preset names, the default first.
func PresetNames() []string {
	names := make([]string, len(presets))
	for i, p := range presets {
		names[i] = p.name
	}
	return names
}

// Preset returns the named preset.
func Preset(name string) (World, error) {
	for _, p := range presets {
		if p.name == name {
			return p.world(), nil
		}
	}
	return World{}, fmt.Errorf("unknown preset %q (valid: %s)", name, strings.Join(PresetNames(), ", "))
}

// factTemplate writes a fact in one document format.
type factTemplate struct {
	// syntax are the template's own words.
	syntax []string
	// write appends the fact's words to dst.
	write func(dst []string, op string, args, ans []string) []string
}

// factTemplates are the known fact templates by name.
var factTemplates = map[string]factTemplate{
	"eq": {[]string{"=", DocStop}, func(dst []string, op string, args, ans []string) []string {
		dst = append(append(dst, op), args...)
		return append(append(append(dst, "="), ans...), DocStop)
	}},
	"arrow": {[]string{"->", DocStop}, func(dst []string, op string, args, ans []string) []string {
		dst = append(append(dst, args...), "->", op, "->")
		return append(append(dst, ans...), DocStop)
	}},
	"the": {[]string{"the", "of", "is", DocStop}, func(dst []string, op string, args, ans []string) []string {
		dst = append(append(dst, "the", op, "of"), args...)
		return append(append(append(dst, "is"), ans...), DocStop)
	}},
}

// Vocabulary returns every word the world's files can contain besides the special tokens:
// symbols, operations and the templates' syntax.
func (w World) Vocabulary() []string {
	words := slices.Concat(w.Letters, w.Digits, w.Ops)
	for _, name := range w.Templates {
		words = append(words, factTemplates[name].syntax...)
	}
	return words
}

// Validate reports every inconsistent knob.
func (w World) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	checkWords := func(knob string, words []string, ok func(string) bool, what string) {
		for i, s := range words {
			if !ok(s) {
				bad("%s: %q is not %s", knob, s, what)
			}
			if slices.Contains(words[:i], s) {
				bad("%s: %q appears twice", knob, s)
			}
		}
	}
	isLetter := func(s string) bool { return isSymbol(s) && !isDigit(s) }
	checkWords("Letters", w.Letters, isLetter, "a letter a-z")
	checkWords("Digits", w.Digits, isDigit, "a digit 0-9")
	if len(w.Letters)+len(w.Digits) < 2 {
		bad("Letters and Digits: need at least 2 symbols")
	}
	isOp := func(s string) bool { _, ok := opSpecs[s]; return ok }
	checkWords("Ops", w.Ops, isOp, "a known operation")
	inOps := func(s string) bool { return slices.Contains(w.Ops, s) }
	checkWords("InDomainOps", w.InDomainOps, inOps, "in Ops")
	checkWords("OODOps", w.OODOps, inOps, "in Ops")
	checkWords("DigitOps", w.DigitOps, inOps, "in Ops")
	if len(w.Ops) == 0 || len(w.InDomainOps) == 0 || len(w.OODOps) == 0 {
		bad("Ops, InDomainOps and OODOps must not be empty")
	}
	for _, op := range w.InDomainOps {
		if slices.Contains(w.OODOps, op) {
			bad("%s is both in InDomainOps and OODOps", op)
		}
	}
	for _, op := range w.Ops {
		if opSpecs[op].decimal && len(w.Digits) != 10 {
			bad("%s needs all ten Digits (its answers are decimal numbers)", op)
		}
		if (opSpecs[op].digitArgs || slices.Contains(w.DigitOps, op)) && len(w.Digits) == 0 {
			bad("%s needs Digits for its arguments", op)
		}
	}
	checkRange := func(knob string, r [2]int, lo, hi int) {
		if r[0] < lo || r[0] > r[1] || r[1] > hi {
			bad("%s %v: want %d ≤ min ≤ max ≤ %d", knob, r, lo, hi)
		}
	}
	checkRange("TrainLen", w.TrainLen, 1, maxLen)
	checkRange("OODLen", w.OODLen, 1, maxLen)
	checkRange("CorpusLen", w.CorpusLen, 1, maxLen)
	if w.TrainLen[0] <= w.OODLen[1] && w.OODLen[0] <= w.TrainLen[1] {
		bad("TrainLen %v and OODLen %v overlap", w.TrainLen, w.OODLen)
	}
	isTemplate := func(s string) bool { _, ok := factTemplates[s]; return ok }
	checkWords("Templates", w.Templates, isTemplate, "a known template (eq, arrow, the)")
	if !slices.Contains(w.Templates, "eq") {
		bad(`Templates: "eq" is required by the document-format probe`)
	}
	if w.CorpusDocs < 0 {
		bad("CorpusDocs %d < 0", w.CorpusDocs)
	}
	checkRange("FactsPerDoc", w.FactsPerDoc, 1, math.MaxInt)
	checkRange("NoiseLen", w.NoiseLen, 1, w.MaxDocWords)
	checkRange("ChatNoiseLen", w.ChatNoiseLen, 1, w.MaxDocWords)
	m := w.Mix
	if m.Facts < 0 || m.Noise < 0 || m.ChatNoise < 0 || math.Abs(m.Facts+m.Noise+m.ChatNoise-1) > 1e-9 {
		bad("Mix %+v: fractions must be non-negative and sum to 1", m)
	}
	if !slices.IsSorted(w.DemoSizes) || len(w.DemoSizes) == 0 || w.DemoSizes[0] < 1 || len(slices.Compact(slices.Clone(w.DemoSizes))) != len(w.DemoSizes) {
		bad("DemoSizes %v: want positive sizes in ascending order", w.DemoSizes)
	}
	if w.HeldOutDemos < 0 || w.PromptPool < 0 || w.EvalPerSplit < 0 || w.ValPerSplit < 0 {
		bad("HeldOutDemos, PromptPool, EvalPerSplit and ValPerSplit must not be negative")
	}
	if len(errs) == 0 {
		w.checkDocWords(bad)
	}
	return errors.Join(errs...)
}

// checkDocWords reports documents that could exceed MaxDocWords, so that the cap is a hard one.
func (w World) checkDocWords(bad func(format string, args ...any)) {
	for _, op := range w.Ops {
		// All-nines arguments give the longest answers (CNT counts every one, ADD carries).
		args := slices.Repeat([]string{"9"}, argCount(op, w.CorpusLen[1]))
		ans, _ := Answer(op, args)
		for _, name := range w.Templates {
			if n := len(factTemplates[name].write(nil, op, args, ans)); n > w.MaxDocWords {
				bad("MaxDocWords %d: a %s fact at L=%d in template %q has %d words", w.MaxDocWords, op, w.CorpusLen[1], name, n)
			}
		}
		// A chat-noise document is <q>, the prompt, <a> and the noise.
		if n := len(args) + 3 + w.ChatNoiseLen[1]; n > w.MaxDocWords {
			bad("MaxDocWords %d: a chat-noise document of %s at L=%d has up to %d words", w.MaxDocWords, op, w.CorpusLen[1], n)
		}
	}
}
