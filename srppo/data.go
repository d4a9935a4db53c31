package srppo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gosrppo/gosrppo/datasets"
)

// EncodeCorpus turns corpus documents into training sequences "<bos> text <eos>" (every target
// counts); an error names the document.
func EncodeCorpus(tok datasets.TextTokenizer, docs []datasets.Doc) ([]Sequence, error) {
	out := make([]Sequence, len(docs))
	for i, d := range docs {
		ids, err := tok.EncodeDocument(d.Text)
		if err != nil {
			return nil, fmt.Errorf("corpus document %d: %w", i+1, err)
		}
		out[i] = Sequence{Tokens: ids}
	}
	return out, nil
}

// LoadCorpusSequences reads a corpus.jsonl file and encodes every document as EncodeCorpus does;
// an error (an unknown word, a bad line) names the file and line. Documents longer than the
// context are kept whole: Train splits them into context-sized pieces.
func LoadCorpusSequences(path string, tok datasets.TextTokenizer) ([]Sequence, error) {
	var out []Sequence
	err := datasets.ReadCorpus(path, func(d datasets.Doc) error {
		ids, err := tok.EncodeDocument(d.Text)
		if err != nil {
			return fmt.Errorf("text: %w", err)
		}
		out = append(out, Sequence{Tokens: ids})
		return nil
	})
	return out, err
}

// LoadDemoSequences reads a demos.jsonl file and encodes every demonstration as EncodeDemos does.
// With context > 0, a demonstration that does not fit in it is refused — it cannot be split
// without losing what its prompt asks. Errors name the file and line.
func LoadDemoSequences(path string, tok datasets.TextTokenizer, context int) ([]Sequence, error) {
	var out []Sequence
	err := datasets.ReadDemos(path, func(d datasets.Demo) error {
		p, err := tok.EncodePrompt(d.Prompt)
		if err != nil {
			return fmt.Errorf("prompt: %w", err)
		}
		r, err := tok.EncodeResponse(d.Response)
		if err != nil {
			return fmt.Errorf("response: %w", err)
		}
		seq := PairSequence(p, r)
		if context > 0 && len(seq.Tokens)-1 > context {
			return fmt.Errorf("prompt + response has %d tokens > context %d (+1: the last token is only a target); shorten it or train with a longer -context", len(seq.Tokens), context)
		}
		out = append(out, seq)
		return nil
	})
	return out, err
}

// CheckPrompt reports whether a PPO prompt encodes and leaves room for maxNew response tokens in
// the context.
func CheckPrompt(tok datasets.TextTokenizer, prompt string, context, maxNew int) error {
	ids, err := tok.EncodePrompt(prompt)
	if err != nil {
		return fmt.Errorf("prompt: %w", err)
	}
	if context > 0 && len(ids)+maxNew > context { // context 0: the encoding alone
		return fmt.Errorf("prompt has %d tokens; with a response budget of %d (-max-new) that exceeds the context of %d", len(ids), maxNew, context)
	}
	return nil
}

// EncodeDemos turns demonstrations into (prompt, response) sequences in the chat template with
// the loss on the response and its <eos>.
func EncodeDemos(tok datasets.TextTokenizer, demos []datasets.Demo) ([]Sequence, error) {
	out := make([]Sequence, len(demos))
	for i, d := range demos {
		p, err := tok.EncodePrompt(d.Prompt)
		if err != nil {
			return nil, fmt.Errorf("demo %d prompt: %w", i+1, err)
		}
		r, err := tok.EncodeResponse(d.Response)
		if err != nil {
			return nil, fmt.Errorf("demo %d response: %w", i+1, err)
		}
		out[i] = PairSequence(p, r)
	}
	return out, nil
}

// EncodePrompts applies the chat template ("<bos> <q> prompt <a>" for the world) and tokenizes.
func EncodePrompts(tok datasets.TextTokenizer, prompts []string) ([][]int32, error) {
	out := make([][]int32, len(prompts))
	for i, p := range prompts {
		ids, err := tok.EncodePrompt(p)
		if err != nil {
			return nil, fmt.Errorf("prompt %d: %w", i+1, err)
		}
		out[i] = ids
	}
	return out, nil
}

// DataTokenizer returns the tokenizer of a data directory: its tokenizer.json when present,
// otherwise one built from every word of its JSONL files (design §5: bring your own data).
func DataTokenizer(dir string) (*datasets.Tokenizer, error) {
	path := filepath.Join(dir, datasets.TokenizerFile)
	if _, err := os.Stat(path); err == nil {
		return datasets.LoadTokenizer(path)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("data directory %s has neither %s nor JSONL files", dir, datasets.TokenizerFile)
	}
	var texts []string
	add := func(s ...string) { texts = append(texts, s...) }
	for _, f := range files {
		var err error
		switch base := filepath.Base(f); {
		case base == datasets.CorpusFile:
			err = datasets.ReadCorpus(f, func(d datasets.Doc) error { add(d.Text); return nil })
		case base == datasets.PromptsFile:
			err = datasets.ReadPrompts(f, func(p datasets.Prompt) error { add(p.Prompt); return nil })
		case base == datasets.EvalFile:
			err = datasets.ReadEval(f, func(e datasets.EvalItem) error { add(e.Prompt, e.Answer); return nil })
		case strings.HasPrefix(base, "demos_"):
			err = datasets.ReadDemos(f, func(d datasets.Demo) error { add(d.Prompt, d.Response); return nil })
		}
		if err != nil {
			return nil, err
		}
	}
	return datasets.BuildTokenizer(texts...), nil
}

// LoadSFTData reads and encodes the SFT demonstrations of a data directory: demos_N.jsonl, and
// demos_heldout.jsonl for choosing the best epoch when the directory has one (nil otherwise).
func LoadSFTData(dir string, tok datasets.TextTokenizer, n int) (train, held []Sequence, err error) {
	return LoadSFTDataFor(dir, tok, n, 0)
}

// LoadSFTDataFor is LoadSFTData refusing, with its file and line, a demonstration longer than
// the context (0: no check); see LoadDemoSequences.
func LoadSFTDataFor(dir string, tok datasets.TextTokenizer, n, context int) (train, held []Sequence, err error) {
	if train, err = LoadDemoSequences(filepath.Join(dir, datasets.DemosFile(n)), tok, context); err != nil {
		return nil, nil, err
	}
	held, err = LoadDemoSequences(filepath.Join(dir, datasets.HeldOutFile), tok, context)
	if errors.Is(err, fs.ErrNotExist) {
		return train, nil, nil
	}
	return train, held, err
}

// ErrUnseenWords is wrapped by CheckCorpusCoverage's report.
var ErrUnseenWords = errors.New("words outside the corpus")

// CheckCorpusCoverage reports the words of a data directory's demonstrations, prompts and eval
// items (demos_*.jsonl, prompts.jsonl, eval.jsonl) that corpus.jsonl never uses: with the word
// tokenizer such a word gets an embedding that pretraining never trains, so the later stages
// would work with noise. The error lists up to five of them, each with the FILE:LINE of its first
// use, and says what to do. Missing files are skipped.
func CheckCorpusCoverage(dir string) error {
	corpus := map[string]bool{}
	corpusPath := filepath.Join(dir, datasets.CorpusFile)
	if err := datasets.ReadCorpus(corpusPath, func(d datasets.Doc) error {
		for _, w := range strings.Fields(d.Text) {
			corpus[w] = true
		}
		return nil
	}); err != nil {
		return err
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return err
	}
	var missing []string
	seen := map[string]bool{}
	for _, f := range files {
		check := func(line int, fields ...string) error {
			for _, text := range fields {
				for _, w := range strings.Fields(text) {
					if !corpus[w] && !seen[w] && !datasets.IsSpecial(w) {
						seen[w] = true
						missing = append(missing, fmt.Sprintf("%s:%d: %q", f, line, w))
					}
				}
			}
			return nil
		}
		switch base := filepath.Base(f); {
		case base == datasets.PromptsFile:
			err = datasets.ReadFileLines(f, func(line int, p datasets.Prompt) error { return check(line, p.Prompt) })
		case base == datasets.EvalFile:
			err = datasets.ReadFileLines(f, func(line int, e datasets.EvalItem) error { return check(line, e.Prompt, e.Answer) })
		case strings.HasPrefix(base, "demos_"):
			err = datasets.ReadFileLines(f, func(line int, d datasets.Demo) error { return check(line, d.Prompt, d.Response) })
		}
		if err != nil {
			return err
		}
	}
	if len(missing) == 0 {
		return nil
	}
	more := ""
	if len(missing) > 5 {
		more = fmt.Sprintf(" (and %d more)", len(missing)-5)
		missing = missing[:5]
	}
	return fmt.Errorf("%d word(s) of the demonstrations, prompts or eval items appear nowhere in %s (%w), so pretraining would never train their embeddings:\n  %s%s\nadd documents that use them to the corpus, or remove them from those files",
		len(seen), corpusPath, ErrUnseenWords, strings.Join(missing, "\n  "), more)
}

// LoadEvalFor reads an eval.jsonl file for a model's tokenizer: every prompt is encoded in the
// chat template now, so an unknown word, or a prompt that leaves no room for maxNew response
// tokens in the context, is an error with the file and line before any work is done.
func LoadEvalFor(path string, tok datasets.TextTokenizer, context, maxNew int) ([]datasets.EvalItem, error) {
	var items []datasets.EvalItem
	err := datasets.ReadFileLines(path, func(_ int, it datasets.EvalItem) error {
		if err := CheckPrompt(tok, it.Prompt, context, maxNew); err != nil {
			return err
		}
		items = append(items, it)
		return nil
	})
	return items, err
}
