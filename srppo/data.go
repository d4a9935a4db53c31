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
	path := filepath.Join(dir, datasets.DemosFile(n))
	demos, err := datasets.LoadDemos(path)
	if err != nil {
		return nil, nil, err
	}
	if train, err = EncodeDemos(tok, demos); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	path = filepath.Join(dir, datasets.HeldOutFile)
	heldDemos, err := datasets.LoadDemos(path)
	if errors.Is(err, fs.ErrNotExist) {
		return train, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	if held, err = EncodeDemos(tok, heldDemos); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return train, held, nil
}
