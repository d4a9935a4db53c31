package datasets

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gosrppo/gosrppo/internal/atomicfile"
)

// Doc is one pretraining document (corpus.jsonl). The pipeline wraps it with [CorpusText].
type Doc struct {
	Text string `json:"text"`
}

// Demo is one demonstration (demos.jsonl): a prompt and its reference response, both without the
// chat template.
type Demo struct {
	Prompt   string `json:"prompt"`
	Response string `json:"response"`
}

// Prompt is one PPO prompt (prompts.jsonl). Split is optional; the world records there which
// evaluation split the prompt was drawn like (id, ood_op or ood_len). Answer is optional too: a
// gold answer, used only by the oracle placement (the reward the coherent reward is compared with).
type Prompt struct {
	Prompt string `json:"prompt"`
	Split  string `json:"split,omitempty"`
	Answer string `json:"answer,omitempty"`
}

// EvalItem is one evaluation item (eval.jsonl). Split names are free strings. Op and Len are
// optional; the world fills them with the operation and the argument length L.
type EvalItem struct {
	Prompt string `json:"prompt"`
	Answer string `json:"answer"`
	Split  string `json:"split"`
	Op     string `json:"op,omitempty"`
	Len    int    `json:"len,omitempty"`
}

// Record is the set of JSONL record types the readers check.
type Record interface {
	Doc | Demo | Prompt | EvalItem
	// required lists the fields that must be present and not blank, by JSON name.
	required() []field
}

// field is a required string field of a record: its JSON name and its value.
type field struct{ name, value string }

func (d Doc) required() []field    { return []field{{"text", d.Text}} }
func (d Demo) required() []field   { return []field{{"prompt", d.Prompt}, {"response", d.Response}} }
func (p Prompt) required() []field { return []field{{"prompt", p.Prompt}} }
func (e EvalItem) required() []field {
	return []field{{"prompt", e.Prompt}, {"answer", e.Answer}, {"split", e.Split}}
}

// ReadJSONL calls fn for every record of r, a JSON-lines stream called name in error messages.
// Blank lines are skipped and unknown fields are ignored (a researcher's files may carry ids or
// metadata). Every bad line, and every error fn returns, comes back as "name:LINE: what is wrong".
func ReadJSONL[T Record](r io.Reader, name string, fn func(T) error) error {
	br := bufio.NewReader(r)
	for line := 1; ; line++ {
		b, readErr := br.ReadBytes('\n')
		if readErr != nil && readErr != io.EOF {
			return fmt.Errorf("%s:%d: %w", name, line, readErr)
		}
		if b = bytes.TrimSpace(b); len(b) > 0 {
			rec, err := decodeRecord[T](b)
			if err == nil {
				err = fn(rec)
			}
			if err != nil {
				return fmt.Errorf("%s:%d: %w", name, line, err)
			}
		}
		if readErr == io.EOF {
			return nil
		}
	}
}

// decodeRecord decodes one non-blank line and checks its required fields.
func decodeRecord[T Record](line []byte) (T, error) {
	var rec T
	if err := json.Unmarshal(line, &rec); err != nil {
		return rec, fmt.Errorf("invalid JSON record: %w", err)
	}
	for _, f := range rec.required() {
		if strings.TrimSpace(f.value) != "" {
			continue
		}
		// Only a blank field costs a second parse, to tell a missing key from an empty value.
		var raw map[string]json.RawMessage
		_ = json.Unmarshal(line, &raw) // the line decoded above, so it is a JSON object or null
		for k := range raw {
			// encoding/json matches keys case-insensitively, so a key is present the same way.
			if strings.EqualFold(k, f.name) {
				return rec, fmt.Errorf("empty field %q", f.name)
			}
		}
		return rec, fmt.Errorf("missing field %q", f.name)
	}
	return rec, nil
}

// readFile calls fn for every record of the JSONL file at path.
func readFile[T Record](path string, fn func(T) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return ReadJSONL(f, path, fn)
}

// loadFile returns every record of the JSONL file at path.
func loadFile[T Record](path string) ([]T, error) {
	var recs []T
	err := readFile(path, func(r T) error {
		recs = append(recs, r)
		return nil
	})
	return recs, err
}

// ReadCorpus calls fn for every document of a corpus.jsonl file.
func ReadCorpus(path string, fn func(Doc) error) error { return readFile(path, fn) }

// ReadDemos calls fn for every demonstration of a demos.jsonl file.
func ReadDemos(path string, fn func(Demo) error) error { return readFile(path, fn) }

// ReadPrompts calls fn for every prompt of a prompts.jsonl file.
func ReadPrompts(path string, fn func(Prompt) error) error { return readFile(path, fn) }

// ReadEval calls fn for every item of an eval.jsonl file.
func ReadEval(path string, fn func(EvalItem) error) error { return readFile(path, fn) }

// LoadCorpus returns every document of a corpus.jsonl file.
func LoadCorpus(path string) ([]Doc, error) { return loadFile[Doc](path) }

// LoadDemos returns every demonstration of a demos.jsonl file.
func LoadDemos(path string) ([]Demo, error) { return loadFile[Demo](path) }

// LoadPrompts returns every prompt of a prompts.jsonl file.
func LoadPrompts(path string) ([]Prompt, error) { return loadFile[Prompt](path) }

// LoadEval returns every item of an eval.jsonl file.
func LoadEval(path string) ([]EvalItem, error) { return loadFile[EvalItem](path) }

// WriteJSONL writes records to path, one JSON object a line, atomically (see [WriteFileAtomic]).
// HTML escaping is off so that special tokens stay readable ("<q>", not "\u003cq\u003e").
func WriteJSONL[T any](path string, records []T) error {
	return writeAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, r := range records {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// WriteFileAtomic writes data to path so that readers see either the old file or the whole new
// one: it writes a temporary file in the same directory, syncs it and renames it over path. On
// failure no temporary file is left behind. The file gets mode 0644.
func WriteFileAtomic(path string, data []byte) error {
	return writeAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeAtomic implements [WriteFileAtomic] for a writer function, so large files are streamed.
func writeAtomic(path string, write func(io.Writer) error) error {
	return atomicfile.Write(path, write)
}
