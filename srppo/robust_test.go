package srppo

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// safetensorsFile assembles a file from a raw JSON header and data bytes.
func safetensorsFile(header string, data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(out, header...), data...)
}

// The crashing and malformed headers of issue 17: each is an error naming the problem, never a
// panic or an allocation the size of the shape.
func TestSafetensorsRejectsMalformedHeaders(t *testing.T) {
	eight := make([]byte, 8)
	hugeHeader := binary.LittleEndian.AppendUint64(nil, 1<<62)
	cases := []struct {
		name string
		raw  []byte
		want string
	}{
		{"empty", nil, "too short for a safetensors file"},
		{"header length beyond the file", binary.LittleEndian.AppendUint64(nil, 100), "header length 100 exceeds file size 8"},
		{"absurd header length", hugeHeader, "header length 4611686018427387904 exceeds the limit of 104857600 bytes"},
		// shape [2^62, 2]: the element count overflows int64 to 2^63 (negative) and ×4 bytes to 0,
		// which matched the empty range and crashed make with "len out of range".
		{"element count overflows", safetensorsFile(`{"w":{"dtype":"F32","shape":[4611686018427387904,2],"data_offsets":[0,0]}}`, nil),
			`tensor "w": shape [4611686018427387904 2] of F32 needs more than the 0 bytes of data offsets [0 0]`},
		{"element count wraps to the range", safetensorsFile(`{"w":{"dtype":"F32","shape":[4611686018427387904,4,1],"data_offsets":[0,8]}}`, eight),
			"needs more than the 8 bytes"},
		{"negative dimension", safetensorsFile(`{"w":{"dtype":"F32","shape":[-2,-4],"data_offsets":[0,8]}}`, eight), "negative dimension"},
		{"offsets beyond the data", safetensorsFile(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, eight), "data offsets [0 16] outside the 8 data bytes"},
		{"offsets reversed", safetensorsFile(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, eight), "data offsets [8 0] outside"},
		{"size mismatch", safetensorsFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}`, eight), "8 bytes for shape [1] of F32 (1 elements × 4 bytes)"},
		{"unknown dtype", safetensorsFile(`{"w":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}}`, eight), `unsupported dtype "F8_E4M3"`},
		{"header not JSON", safetensorsFile(`{"w":`, nil), "header:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := DecodeSafetensors(c.raw)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
	// The reader names the file.
	path := filepath.Join(t.TempDir(), "model.safetensors")
	os.WriteFile(path, cases[3].raw, 0o644)
	if _, _, err := ReadSafetensors(path); err == nil || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("error %v does not name %s", err, path)
	}
}

// FuzzDecodeSafetensors: no input panics, and what decodes is consistent with its header.
func FuzzDecodeSafetensors(f *testing.F) {
	good, err := EncodeSafetensors(map[string]Tensor{"a": {DType: "F32", Shape: []int{2, 3}, F32: make([]float32, 6)}, "s": {DType: "I64", Shape: []int{}, I64: []int64{7}}}, map[string]string{"format": "pt"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(safetensorsFile(`{"w":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(safetensorsFile(`{"w":{"dtype":"F32","shape":[4611686018427387904,2],"data_offsets":[0,0]}}`, nil))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ts, _, err := DecodeSafetensors(raw)
		if err != nil {
			return
		}
		for name, tt := range ts {
			n := 1
			for _, d := range tt.Shape {
				n *= d
			}
			if got := len(tt.F32) + len(tt.I64); got != n || got > len(raw) {
				t.Fatalf("tensor %q: %d values for shape %v in a %d-byte file", name, got, tt.Shape, len(raw))
			}
		}
	})
}

// A config.json with absurd sizes is refused naming the field and the limit, before anything is
// allocated (issue 17: d_model 2^50, layers 10^9 and context 2^40 crashed or ran out of memory).
func TestAbsurdConfigRefusedBeforeAllocation(t *testing.T) {
	m := newTinyLM(t, 1)
	dir := filepath.Join(t.TempDir(), "model")
	if err := SaveModel(dir, m); err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	cases := []struct {
		field string
		value int
		want  string
	}{
		{"d_model", 1 << 50, "d_model 1125899906842624 exceeds the limit of 65536"},
		{"layers", 1e9, "layers 1000000000 exceeds the limit of 1024"},
		{"context", 1 << 40, "context 1099511627776 exceeds the limit of 1048576"},
		{"vocab_size", 1 << 40, "vocab_size 1099511627776 exceeds the limit of 2097152"},
		{"d_ff", -3, "d_ff -3 must be ≥ 1"},
	}
	for _, c := range cases {
		var cc map[string]map[string]any
		json.Unmarshal(orig, &cc)
		cc["model"][c.field] = c.value
		raw, _ := json.Marshal(cc)
		os.WriteFile(filepath.Join(dir, ConfigFile), raw, 0o644)
		_, err := LoadModel(dir, nil, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), ConfigFile) {
			t.Errorf("%s = %d: error %v, want %q naming %s", c.field, c.value, err, c.want, ConfigFile)
		}
	}
	for raw, want := range map[string]string{
		`{"model_type":"gpt2","n_embd":1125899906842624,"n_head":4}`: "d_model 1125899906842624 exceeds the limit of 65536",
		`{"model_type":"gpt2","n_layer":1000000000}`:                 "layers 1000000000 exceeds the limit of 1024",
		`{"model_type":"gpt2","n_positions":1099511627776}`:          "context 1099511627776 exceeds the limit of 1048576",
	} {
		if _, err := parseGPT2Config([]byte(raw), "hf/config.json"); err == nil || err.Error() != "hf/config.json: model config: "+want {
			t.Errorf("%s: error %v, want %q", raw, err, want)
		}
	}
	// Each size within its limit, the product beyond the parameter cap.
	big := DefaultConfig(MaxVocabSize)
	big.DModel, big.Heads, big.DFF, big.Layers = MaxDModel, 64, MaxDFF, MaxLayers
	if err := big.Validate(); err == nil || !strings.Contains(err.Error(), "more than 17179869184 parameters") {
		t.Errorf("huge model: %v", err)
	}
}

// Fuzz targets for both kinds of config.json: no input panics, and whatever parses is a config
// within the limits (so NewLM can allocate it).
func FuzzWordConfig(f *testing.F) {
	raw, _ := json.Marshal(checkpointConfig{Model: DefaultConfig(30)})
	f.Add(raw)
	f.Add([]byte(`{"model":{"vocab_size":30,"d_model":1125899906842624,"layers":1000000000,"heads":4,"d_ff":512,"context":1099511627776,"positions":"learned","layer_norm_eps":1e-5}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var cc checkpointConfig
		if json.Unmarshal(raw, &cc) != nil || cc.Model.Validate() != nil {
			return
		}
		checkBounded(t, cc.Model)
	})
}

func FuzzGPT2Config(f *testing.F) {
	f.Add([]byte(`{"model_type":"gpt2","n_embd":64,"n_layer":2,"n_head":4,"n_positions":128,"vocab_size":300}`))
	f.Add([]byte(`{"model_type":"gpt2","n_embd":1125899906842624,"n_layer":1000000000,"n_head":4,"n_positions":1099511627776}`))
	f.Add([]byte(`{"model_type":"gpt2","n_inner":-1}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg, err := parseGPT2Config(raw, "config.json")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config.json: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		checkBounded(t, cfg)
	})
}

func checkBounded(t *testing.T, c Config) {
	t.Helper()
	if c.VocabSize > MaxVocabSize || c.DModel > MaxDModel || c.Layers > MaxLayers || c.DFF > MaxDFF || c.Context > MaxContext || c.positionRows() > MaxContext {
		t.Fatalf("config beyond the limits validated: %+v", c)
	}
	n := 0
	for _, p := range c.paramShapes() {
		k := 1
		for _, d := range p.shape {
			k *= d
		}
		n += k
	}
	if n > MaxParams || n <= 0 {
		t.Fatalf("config with %d parameters validated: %+v", n, c)
	}
}

// FuzzReadMetrics: metrics.jsonl never panics or hangs the reader (a huge iteration number once
// meant a loop up to it), and what it returns is in iteration order.
func FuzzReadMetrics(f *testing.F) {
	f.Add([]byte("{\"iteration\": 0, \"reward\": 1}\n{\"iteration\": 1}\n{\"iteration\": 0, \"reward\": 2}\n"))
	f.Add([]byte("{\"iteration\": 4000000000000000000}\n"))
	f.Add([]byte("{\"iteration\": -3}\n{\"reward\": null}\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, raw []byte) {
		os.WriteFile(filepath.Join(dir, "metrics.jsonl"), raw, 0o644)
		ms, err := ReadMetrics(dir)
		if err != nil {
			return
		}
		for i := 1; i < len(ms); i++ {
			if ms[i].Iteration <= ms[i-1].Iteration {
				t.Fatalf("iterations out of order: %d after %d", ms[i].Iteration, ms[i-1].Iteration)
			}
		}
	})
}

// A checkpoint whose JSON files start with a UTF-8 byte order mark (written by some editors)
// loads as without it (issue 17: it read as "invalid character 'ï'").
func TestCheckpointJSONWithBOM(t *testing.T) {
	m := newTinyLM(t, 1)
	dir := filepath.Join(t.TempDir(), "model")
	if err := SaveModel(dir, m); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{ConfigFile, TokenizerFile} {
		raw, _ := os.ReadFile(filepath.Join(dir, name))
		os.WriteFile(filepath.Join(dir, name), append([]byte("\xEF\xBB\xBF"), raw...), 0o644)
	}
	got, err := LoadModel(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Config != m.Config || !got.Tokenizer.Equal(m.Tokenizer) || got.Role != RoleBase {
		t.Errorf("loaded %+v (role %q)", got.Config, got.Role)
	}
}

// Checkpoints written before roles were recorded — the shipped base model among them — still
// load, and are accepted with a note; a recorded role in the wrong place is refused.
func TestRolesOldCheckpointsAccepted(t *testing.T) {
	old, err := LoadModel(filepath.Join("base", "lean"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	note := func(s string) { notes = append(notes, s) }
	if old.Role != "" || CheckRole(old, "-pt", "base/lean", note, RoleBase) != nil || len(notes) != 1 || !strings.Contains(notes[0], "records no role") {
		t.Errorf("old checkpoint: role %q, notes %q", old.Role, notes)
	}
	m := newTinyLM(t, 1)
	m.Role = RoleSFT
	dir := filepath.Join(t.TempDir(), "sft")
	if err := SaveModel(dir, m); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadModel(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = CheckRole(loaded, "-pt", dir, note, RoleBase)
	if err == nil || err.Error() != "-pt "+dir+" is an SFT model (from srppo sft), but -pt needs a base model (from srppo pretrain)" {
		t.Errorf("SFT model as -pt: %v", err)
	}
	if CheckRole(loaded, "-sft", dir, note, RoleSFT) != nil {
		t.Error("SFT model refused as -sft")
	}
	if !SameModel(dir, filepath.Dir(dir)+"/./sft") || SameModel(dir, filepath.Join("base", "lean")) {
		t.Error("SameModel")
	}
}
