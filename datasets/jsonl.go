package datasets

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

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

// MaxLineBytes is the longest JSONL line the readers accept (1 MiB): far above any document,
// demonstration or prompt a model with a context of thousands of tokens can use, and a guard
// against a binary or unsplit file read whole into memory.
const MaxLineBytes = 1 << 20

// utf8BOM is the byte order mark some editors put at the start of a UTF-8 file.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// TrimBOM drops a UTF-8 byte order mark from the start of a file's content: some editors write
// one, and JSON parsers read it as the invalid character 'ï'.
func TrimBOM(data []byte) []byte { return bytes.TrimPrefix(data, utf8BOM) }

// ReadJSONL calls fn for every record of r, a JSON-lines stream called name in error messages.
// Blank lines are skipped, unknown fields are ignored (a researcher's files may carry ids or
// metadata) and a UTF-8 byte order mark at the start is dropped. Every bad line — invalid JSON or
// UTF-8, longer than MaxLineBytes, a missing or blank field — and every error fn returns comes
// back as "name:LINE: what is wrong", LINE counting from 1 over all lines, blank ones included.
func ReadJSONL[T Record](r io.Reader, name string, fn func(T) error) error {
	return readJSONL(r, name, func(_ int, rec T) error { return fn(rec) })
}

// readJSONL is ReadJSONL passing each record's line number to fn.
func readJSONL[T Record](r io.Reader, name string, fn func(int, T) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		b, readErr := readLine(br)
		if readErr != nil && readErr != io.EOF {
			return fmt.Errorf("%s:%d: %w", name, line, readErr)
		}
		if line == 1 {
			b = bytes.TrimPrefix(b, utf8BOM)
		}
		if b = bytes.TrimSpace(b); len(b) > 0 {
			rec, err := decodeRecord[T](b)
			if err == nil {
				err = fn(line, rec)
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

// errLineTooLong is returned by readLine for a line beyond MaxLineBytes.
var errLineTooLong = fmt.Errorf("line longer than %d bytes (the limit for one JSONL record; is the file split into lines?)", MaxLineBytes)

// readLine returns the next line without reading more than MaxLineBytes of it into memory.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > MaxLineBytes+1 { // +1: the newline
			return nil, errLineTooLong
		}
		line = append(line, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		return line, err
	}
}

// decodeRecord decodes one non-blank line and checks its required fields.
func decodeRecord[T Record](line []byte) (T, error) {
	var rec T
	if !utf8.Valid(line) {
		i := 0
		for i < len(line) {
			r, size := utf8.DecodeRune(line[i:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			i += size
		}
		return rec, fmt.Errorf("invalid UTF-8 (byte 0x%02x at column %d); save the file as UTF-8", line[i], i+1)
	}
	if bytes.HasPrefix(line, utf8BOM) {
		return rec, fmt.Errorf("byte order mark (U+FEFF) inside the file; only the first line may start with one")
	}
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

// ErrNoRecords is wrapped by the error for a JSONL file without a single record.
var ErrNoRecords = errors.New("no records (the file is empty or blank)")

// readFile calls fn for every record of the JSONL file at path; a file without records is an
// error naming it (wrapping ErrNoRecords).
func readFile[T Record](path string, fn func(T) error) error {
	return ReadFileLines(path, func(_ int, r T) error { return fn(r) })
}

// ReadFileLines calls fn for every record of the JSONL file at path with the record's line
// number, for checks that report FILE:LINE themselves; errors are as ReadJSONL's, and a file
// without records is an error naming it (wrapping ErrNoRecords).
func ReadFileLines[T Record](path string, fn func(line int, rec T) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	n := 0
	err = readJSONL(f, path, func(line int, r T) error { n++; return fn(line, r) })
	if err == nil && n == 0 {
		err = fmt.Errorf("%s: %w", path, ErrNoRecords)
	}
	return err
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
