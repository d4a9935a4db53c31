package bench

import (
	"encoding/json"
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gosrppo/gosrppo/internal/tinyllama"
	"github.com/gosrppo/gosrppo/srppo"
)

// torchPython returns a python3 that imports torch (PATH's, then Debian's /usr/bin/python3).
func torchPython() (string, bool) {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if path, err := exec.LookPath(py); err == nil && exec.Command(path, "-c", "import torch").Run() == nil {
			return path, true
		}
	}
	return "", false
}

// TestLlamaTorchReference compares the logits of tiny Llama, Qwen2, Qwen3 and Mistral checkpoints
// (GQA, RoPE θ and llama3 scaling, QK-norm, biases, bf16 shards) with llama_ref.py, a PyTorch
// float64 implementation of the architecture fed the same weights — the checkpoint as srppo saves
// it back, so the saved layout is what PyTorch reads. It skips when no python3 imports torch
// (Debian: apt-get install python3-torch; bench/run.sh installs it).
func TestLlamaTorchReference(t *testing.T) {
	py, ok := torchPython()
	if !ok {
		t.Skip("no python3 with torch (apt-get install python3-torch): the plain-Go float64 reference in srppo still runs")
	}
	variants := map[string]tinyllama.Options{}
	for _, fam := range []string{"llama", "qwen2", "qwen3", "mistral"} {
		variants[fam] = tinyllama.Defaults(fam)
	}
	o := tinyllama.Defaults("qwen3")
	o.Shards, o.DType, o.Seed = 2, "BF16", 4
	variants["qwen3 bf16 shards"] = o
	for name, o := range variants {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "src")
			if _, err := tinyllama.Write(src, o); err != nil {
				t.Fatal(err)
			}
			m, err := srppo.LoadPretrained("", src, 0)
			if err != nil {
				t.Fatal(err)
			}
			saved := filepath.Join(t.TempDir(), "saved")
			if err := srppo.SaveModel(saved, m); err != nil {
				t.Fatal(err)
			}
			tokens, err := m.Tokenizer.EncodePrompt("hello world, 123 wor")
			if err != nil {
				t.Fatal(err)
			}
			tokens = append(tokens, 5, 261, m.Tokenizer.EOS(), 0, 42)
			got, err := m.Logits(tokens)
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]string, len(tokens))
			for i, id := range tokens {
				ids[i] = strconv.Itoa(int(id))
			}
			out, err := exec.Command(py, "llama_ref.py", saved, strings.Join(ids, ",")).Output()
			if err != nil {
				t.Fatalf("llama_ref.py: %v", err)
			}
			var ref [][]float64
			if err := json.Unmarshal(out, &ref); err != nil {
				t.Fatal(err)
			}
			if len(ref) != len(tokens) {
				t.Fatalf("%d rows of reference logits for %d tokens", len(ref), len(tokens))
			}
			var worst float64
			for i := range ref {
				for v := range ref[i] {
					worst = math.Max(worst, math.Abs(float64(got[i][v])-ref[i][v]))
				}
			}
			if worst > 1e-4 {
				t.Errorf("logits differ from PyTorch's by up to %.2e", worst)
			}
			t.Logf("%d tokens × %d logits: max |Δ| vs PyTorch = %.2e", len(tokens), len(ref[0]), worst)
		})
	}
}
