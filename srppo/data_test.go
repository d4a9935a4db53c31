package srppo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gosrppo/gosrppo/datasets"
)

func TestLoadSFTData(t *testing.T) {
	dir := t.TempDir()
	tok := tinyTokenizer()
	if err := datasets.WriteJSONL(filepath.Join(dir, datasets.DemosFile(2)), []datasets.Demo{{Prompt: "a b", Response: "b a"}, {Prompt: "c", Response: "d"}}); err != nil {
		t.Fatal(err)
	}
	train, held, err := LoadSFTData(dir, tok, 2)
	if err != nil || len(train) != 2 || held != nil {
		t.Fatalf("without held-out file: %d train, %v held, %v", len(train), held, err)
	}
	// "<bos> <q> a b <a>" → "b a <eos>": the loss starts at the last prompt token.
	if got := train[0]; len(got.Tokens) != 8 || got.LossFrom != 4 {
		t.Errorf("first sequence %+v", got)
	}
	heldPath := filepath.Join(dir, datasets.HeldOutFile)
	if err := os.WriteFile(heldPath, []byte(`{"prompt":"a","response":"zz"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadSFTData(dir, tok, 2); err == nil || !strings.Contains(err.Error(), heldPath) || !strings.Contains(err.Error(), `"zz"`) {
		t.Errorf("bad held-out demo: err = %v", err)
	}
}
