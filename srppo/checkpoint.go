package srppo

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gosrppo/gosrppo/datasets"
)

// Checkpoint file names inside a checkpoint directory.
const (
	ConfigFile    = "config.json"
	TokenizerFile = "tokenizer.json"
	// TokenizerConfigFile holds a Hugging Face tokenizer's chat template and special tokens.
	TokenizerConfigFile = "tokenizer_config.json"
	WeightsFile         = "model.safetensors"      // model weights under Hugging Face GPT-2 names
	StateTensors        = "state.safetensors"      // AdamW moments, step counters, extra variables (a critic's value head)
	BestFile            = "best.safetensors"       // weights of the best epoch so far, when not the last
	BestScoreFile       = "best_score.safetensors" // weights of the best-scoring epoch so far, when not the last
	StateFile           = "state.json"             // training position, loss curve
)

// checkpointConfig is config.json.
type checkpointConfig struct {
	Model Config `json:"model"`
	Role  string `json:"role,omitempty"` // RoleBase, RoleSFT, …; absent in checkpoints written before roles
}

// SaveModel writes the model's config, tokenizer and weights to dir atomically (see writeDirAtomic).
// A model with the word tokenizer is written in this package's format (config.json holds Config);
// a model with a byte-level BPE tokenizer as a Hugging Face GPT-2 checkpoint (config.json with
// model_type "gpt2", tokenizer.json, model.safetensors under GPT-2's names), which
// GPT2LMHeadModel.from_pretrained loads.
func SaveModel(dir string, m *LM) error {
	files, err := modelFiles(m)
	if err != nil {
		return err
	}
	return writeDirAtomic(dir, files)
}

func modelFiles(m *LM) (map[string][]byte, error) {
	if m.Tokenizer == nil {
		return nil, fmt.Errorf("model has no tokenizer to save with it")
	}
	var cfg []byte
	var err error
	if _, word := m.Tokenizer.(*datasets.Tokenizer); word {
		if m.Tokenizer.VocabSize() != m.Config.VocabSize {
			return nil, fmt.Errorf("tokenizer has %d words, the model's vocabulary %d", m.Tokenizer.VocabSize(), m.Config.VocabSize)
		}
		cfg, err = json.MarshalIndent(checkpointConfig{Model: m.Config, Role: m.Role}, "", "  ")
	} else if m.Config.llama() {
		cfg, err = llamaConfigJSON(m.Config, m.Tokenizer, m.Role)
	} else {
		cfg, err = gpt2ConfigJSON(m.Config, m.Tokenizer, m.Role)
	}
	if err != nil {
		return nil, err
	}
	tok, err := m.Tokenizer.Marshal()
	if err != nil {
		return nil, err
	}
	params, err := m.Params()
	if err != nil {
		return nil, err
	}
	weights, err := encodeParams(m.Config, params)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{ConfigFile: cfg, TokenizerFile: tok, WeightsFile: weights}
	if tc, ok := m.Tokenizer.(interface{ MarshalConfig() ([]byte, error) }); ok {
		data, err := tc.MarshalConfig()
		if err != nil {
			return nil, err
		}
		if data != nil {
			files[TokenizerConfigFile] = data
		}
	}
	return files, nil
}

func encodeParams(cfg Config, params map[string][]float32) ([]byte, error) {
	ts := map[string]Tensor{}
	for _, p := range cfg.paramShapes() {
		ts[p.name] = Tensor{DType: "F32", Shape: p.shape, F32: params[p.name]}
	}
	return EncodeSafetensors(ts, map[string]string{"format": "pt"})
}

// SFTLongSubdir is where an SFT run keeps its last epoch's weights ("SFT-long", the overfit model).
const SFTLongSubdir = "long"

// SFTScoreSubdir is where an SFT run trained with a held-out score (TrainConfig.HeldOutScore)
// keeps its best-scoring epoch's weights.
const SFTScoreSubdir = "best_score"

// SaveSFT writes an SFT run to dir: the last epoch's weights (m as trained) to dir/long, the
// best-scoring epoch's to dir/best_score when training had a held-out score, and the best
// epoch's (by held-out loss) to dir/model, leaving m at the best epoch.
func SaveSFT(dir string, m *LM, res *TrainResult) error {
	m.Role = RoleSFT
	if err := SaveModel(filepath.Join(dir, SFTLongSubdir), m); err != nil {
		return err
	}
	if scored := len(res.Curve) > 0 && res.Curve[len(res.Curve)-1].Score != nil; scored && res.BestScoreEpoch >= 0 {
		last, err := m.Params()
		if err != nil {
			return err
		}
		if res.BestScoreParams != nil {
			if err := m.SetParams(res.BestScoreParams); err != nil {
				return err
			}
		}
		if err := SaveModel(filepath.Join(dir, SFTScoreSubdir), m); err != nil {
			return err
		}
		if err := m.SetParams(last); err != nil {
			return err
		}
	}
	if res.BestParams != nil {
		if err := m.SetParams(res.BestParams); err != nil {
			return err
		}
	}
	return SaveModel(filepath.Join(dir, ModelSubdir), m)
}

// ModelSubdir is where commands put a run's final model: RUN/model (beside RUN/train, the
// resumable checkpoint, and the run's JSON reports). LoadModel accepts either directory.
const ModelSubdir = "model"

// LoadModel reads a checkpoint directory written by SaveModel or training (or a run directory
// holding one in ModelSubdir), in this package's format or as a Hugging Face checkpoint
// (config.json with model_type "gpt2", or llama, qwen2, qwen3, mistral; see LoadPretrained). When want is non-nil the stored config
// must equal it — a GPT-2 checkpoint takes want's Context, which only caps sequence lengths — and
// when tok is non-nil the stored tokenizer must equal it; a mismatch is an error naming what differs.
func LoadModel(dir string, want *Config, tok datasets.TextTokenizer) (*LM, error) {
	dir, err := modelDir(dir)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	var probe struct {
		ModelType string `json:"model_type"`
	}
	raw = datasets.TrimBOM(raw)
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
	}
	hf := probe.ModelType != ""
	var cfg Config
	var role string
	var stored datasets.TextTokenizer
	if hf {
		if cfg, err = parseHFConfig(raw, filepath.Join(dir, ConfigFile)); err != nil {
			return nil, err
		}
		role = gpt2Role(raw)
		if want != nil {
			cfg.Context = want.Context
		}
		stored, err = loadHFTokenizer(dir, cfg)
	} else {
		var cc checkpointConfig
		if err := readJSON(filepath.Join(dir, ConfigFile), &cc); err != nil {
			return nil, err
		}
		cfg, role = cc.Model, cc.Role
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
		}
		stored, err = datasets.LoadTokenizer(filepath.Join(dir, TokenizerFile))
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	// The vocabulary first: a different vocabulary also shows as a different vocab_size, but
	// naming the words says what happened.
	if tok != nil && !tok.Equal(stored) {
		sw, ok1 := stored.(*datasets.Tokenizer)
		tw, ok2 := tok.(*datasets.Tokenizer)
		if ok1 && ok2 {
			return nil, fmt.Errorf("checkpoint %s: vocabulary does not match: checkpoint has %d words, the data's tokenizer %d%s%s — the model was trained on other data; pretrain a base on this data directory (srppo pretrain -data DIR -out NEW_DIR), or give the data directory the checkpoint's %s", dir, sw.VocabSize(), tw.VocabSize(), firstWordDiff(sw, tw), vocabDiff(sw, tw), TokenizerFile)
		}
		return nil, fmt.Errorf("checkpoint %s: its tokenizer (%s) is not the expected one (%s)", dir, describeTokenizer(stored), describeTokenizer(tok))
	}
	if want != nil {
		if diff := configDiff(*want, cfg); diff != "" {
			return nil, fmt.Errorf("checkpoint %s: model config does not match the configured one: %s", dir, diff)
		}
	}
	if !hf && stored.VocabSize() != cfg.VocabSize {
		return nil, fmt.Errorf("checkpoint %s: tokenizer has %d words but config vocab_size is %d", dir, stored.VocabSize(), cfg.VocabSize)
	}
	if hf && stored.VocabSize() > cfg.VocabSize {
		return nil, fmt.Errorf("checkpoint %s: tokenizer has %d ids but config vocab_size is %d", dir, stored.VocabSize(), cfg.VocabSize)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
	}
	// The weights are read and checked against the config before the model is allocated.
	params, err := readWeights(cfg, filepath.Join(dir, WeightsFile), hf)
	if err != nil {
		return nil, err
	}
	m, err := NewLM(cfg, 0)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	m.Tokenizer, m.Role = stored, role
	if err := m.SetParams(params); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, WeightsFile), err)
	}
	return m, nil
}

// modelDir resolves a model directory: dir itself, or a run directory's ModelSubdir, either
// possibly left as ".prev" by an interrupted write.
func modelDir(dir string) (string, error) {
	dir = resolveCheckpointDir(dir)
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err != nil {
		if _, err2 := os.Stat(filepath.Join(dir, ModelSubdir, ConfigFile)); err2 == nil {
			return resolveCheckpointDir(filepath.Join(dir, ModelSubdir)), nil
		}
		return "", fmt.Errorf("%s is not a model directory: %w", dir, err)
	}
	return dir, nil
}

// loadWeights sets m's parameters from a safetensors file; with hf, the tensor names of a Hugging
// Face GPT-2 checkpoint are accepted (see gpt2Tensors). A missing, misshapen or unexpected tensor
// is an error naming it.
func loadWeights(m *LM, path string, hf bool) error {
	params, err := readWeights(m.Config, path, hf)
	if err != nil {
		return err
	}
	return m.SetParams(params)
}

// readWeights reads the parameters of a model of config cfg from a safetensors file (or the
// shards its index names), checking every tensor's name, shape and dtype (see loadWeights).
func readWeights(cfg Config, path string, hf bool) (map[string][]float32, error) {
	ts, err := readModelWeights(path)
	if err != nil {
		return nil, err
	}
	if hf && cfg.llama() {
		ts = llamaTensors(ts, cfg.TiedEmbeddings)
	} else if hf {
		ts = gpt2Tensors(ts, cfg.TiedEmbeddings)
	}
	params := map[string][]float32{}
	for _, p := range cfg.paramShapes() {
		t, ok := ts[p.name]
		if !ok {
			return nil, fmt.Errorf("%s: tensor %q missing", path, p.name)
		}
		if !reflect.DeepEqual(t.Shape, p.shape) {
			return nil, fmt.Errorf("%s: tensor %q has shape %v, the model needs %v", path, p.name, t.Shape, p.shape)
		}
		if t.DType != "F32" {
			return nil, fmt.Errorf("%s: tensor %q has dtype %s, the model needs floating point", path, p.name, t.DType)
		}
		params[p.name] = t.F32
	}
	if len(ts) != len(params) {
		for _, name := range slices.Sorted(maps.Keys(ts)) {
			if _, ok := params[name]; !ok {
				return nil, fmt.Errorf("%s: unexpected tensor %q for this model config", path, name)
			}
		}
	}
	return params, nil
}

// configDiff lists the fields whose values differ ("" when equal).
func configDiff(want, got Config) string {
	var diffs []string
	wv, gv := reflect.ValueOf(want), reflect.ValueOf(got)
	for i := range wv.NumField() {
		if !reflect.DeepEqual(wv.Field(i).Interface(), gv.Field(i).Interface()) {
			name := wv.Type().Field(i).Tag.Get("json")
			diffs = append(diffs, fmt.Sprintf("%s: configured %v, checkpoint %v", name, wv.Field(i).Interface(), gv.Field(i).Interface()))
		}
	}
	return strings.Join(diffs, "; ")
}

// describeTokenizer names a tokenizer's kind and size for error messages.
func describeTokenizer(t datasets.TextTokenizer) string {
	if _, ok := t.(*datasets.Tokenizer); ok {
		return fmt.Sprintf("word-level, %d words", t.VocabSize())
	}
	return fmt.Sprintf("byte-level BPE, %d ids", t.VocabSize())
}

// vocabDiff names up to ten words on each side that the other vocabulary lacks.
func vocabDiff(ckpt, data *datasets.Tokenizer) string {
	list := func(a, b *datasets.Tokenizer) string {
		var out []string
		n := 0
		for _, w := range a.Words() {
			if _, ok := b.ID(w); !ok {
				if n++; n <= 10 {
					out = append(out, strconv.Quote(w))
				}
			}
		}
		if n > 10 {
			out = append(out, fmt.Sprintf("… %d in all", n))
		}
		return strings.Join(out, " ")
	}
	var parts []string
	if l := list(data, ckpt); l != "" {
		parts = append(parts, "only in the data: "+l)
	}
	if l := list(ckpt, data); l != "" {
		parts = append(parts, "only in the checkpoint: "+l)
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, "; ")
}

func firstWordDiff(a, b *datasets.Tokenizer) string {
	aw, bw := a.Words(), b.Words()
	for i := range min(len(aw), len(bw)) {
		if aw[i] != bw[i] {
			return fmt.Sprintf(" (first difference at id %d: %q vs %q)", i, aw[i], bw[i])
		}
	}
	return ""
}

// saveTraining writes a full training checkpoint: model files, optimizer state, best-epoch
// weights and the training position. It refuses to overwrite the last good checkpoint with
// non-finite weights (an update can turn them NaN before any loss shows it).
func saveTraining(m *LM, dir string, st trainState, lastLoss float64) error {
	files, err := trainingFiles(m, dir, st, lastLoss)
	if err != nil {
		return err
	}
	return writeDirAtomic(dir, files)
}

// trainingFiles are the files of the training checkpoint saveTraining writes.
func trainingFiles(m *LM, dir string, st trainState, lastLoss float64) (map[string][]byte, error) {
	params, err := m.Params()
	if err != nil {
		return nil, err
	}
	if name, i, ok := firstNonFinite(params); ok {
		return nil, fmt.Errorf("%w: weights became non-finite at step %d (%s[%d]; last finite loss %v); %s — lower the learning rate or check the data",
			ErrNonFinite, st.Step, name, i, lastLoss, keptCheckpoint(dir, StateFile))
	}
	files, err := modelFiles(m)
	if err != nil {
		return nil, err
	}
	if files[StateTensors], err = storeState(m); err != nil {
		return nil, err
	}
	if st.BestParams != nil {
		if files[BestFile], err = encodeParams(m.Config, st.BestParams); err != nil {
			return nil, err
		}
	}
	if st.BestScoreParams != nil {
		if files[BestScoreFile], err = encodeParams(m.Config, st.BestScoreParams); err != nil {
			return nil, err
		}
	}
	if files[StateFile], err = json.MarshalIndent(st, "", "  "); err != nil {
		return nil, fmt.Errorf("checkpoint state: %w", err)
	}
	return files, nil
}

// firstNonFinite returns the first NaN/Inf parameter value in a fixed (sorted) name order.
func firstNonFinite(params map[string][]float32) (string, int, bool) {
	names := make([]string, 0, len(params))
	for n := range params {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for i, v := range params[n] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return n, i, true
			}
		}
	}
	return "", 0, false
}

// optimizerLRPath is the variable GoMLX's optimizers read the learning rate from; it is fed from
// the schedule at every step and deliberately not checkpointed (a restored value must never
// override the configured learning rate).
const optimizerLRPath = "/optimizers/learning_rate"

// resumeTraining loads weights, optimizer state and position from dir into m. It returns nil
// (and leaves m alone) when dir holds no training checkpoint.
func resumeTraining(m *LM, dir string) (*trainState, error) {
	dir = resolveCheckpointDir(dir)
	if _, err := os.Stat(filepath.Join(dir, StateFile)); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	loaded, err := LoadModel(dir, &m.Config, m.Tokenizer)
	if err != nil {
		return nil, err
	}
	params, err := loaded.Params()
	if err != nil {
		return nil, err
	}
	if err := m.SetParams(params); err != nil {
		return nil, err
	}
	if err := restoreStoreState(m, filepath.Join(dir, StateTensors)); err != nil {
		return nil, err
	}
	var st trainState
	if err := readJSON(filepath.Join(dir, StateFile), &st); err != nil {
		return nil, err
	}
	if st.BestParams, err = loadParamsIfPresent(m.Config, filepath.Join(dir, BestFile)); err != nil {
		return nil, err
	}
	if st.BestScoreParams, err = loadParamsIfPresent(m.Config, filepath.Join(dir, BestScoreFile)); err != nil {
		return nil, err
	}
	if st.BestScoreEpoch == 0 && st.BestScoreParams == nil && len(st.Curve) > 0 && st.Curve[0].Score == nil {
		st.BestScoreEpoch = -1 // a checkpoint written before scores were recorded
	}
	return &st, nil
}

// loadParamsIfPresent reads the weights file path (nil, nil when it does not exist).
func loadParamsIfPresent(cfg Config, path string) (map[string][]float32, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, nil
	}
	m, err := NewLM(cfg, 0)
	if err != nil {
		return nil, err
	}
	if err := loadWeights(m, path, false); err != nil {
		return nil, err
	}
	return m.Params()
}

// storeState serialises every variable of m's store that is not a model parameter (optimizer
// moments, step counters, a critic's value head), except the learning rate (see optimizerLRPath).
func storeState(m *LM) ([]byte, error) {
	params := map[string]bool{}
	for _, p := range m.Config.paramShapes() {
		params[varPath(m.scope, p.name)] = true
	}
	ts := map[string]Tensor{}
	for v := range m.store.IterVariables() {
		path := v.Path()
		if params[path] || path == optimizerLRPath {
			continue
		}
		t, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", path, err)
		}
		if ts[path], err = hostTensor(t); err != nil {
			return nil, fmt.Errorf("variable %s: %w", path, err)
		}
	}
	return EncodeSafetensors(ts, nil)
}

// restoreStoreState sets (creating where needed) the variables saved by storeState.
func restoreStoreState(m *LM, path string) error {
	ts, _, err := ReadSafetensors(path)
	if err != nil {
		return err
	}
	// Sorted, so that variables are created in the same order on every load: the optimizer visits
	// them in store order, and a different order would change floating-point sums (the global norm).
	names := make([]string, 0, len(ts))
	for name := range ts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		gt := ts[name].tensor()
		if v := m.store.GetVariable(name); v != nil {
			if err := v.SetValue(gt); err != nil {
				return fmt.Errorf("%s: %s: %w", path, name, err)
			}
			continue
		}
		v, err := m.store.CreateVariable(name, gt)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", path, name, err)
		}
		// Only a critic's value head is trained among the extra variables.
		v.SetTrainable(name == varPath(m.scope, valueHeadWeight) || name == varPath(m.scope, valueHeadBias))
	}
	return nil
}

// hostTensor copies a GoMLX tensor into a safetensors Tensor.
func hostTensor(t *tensors.Tensor) (Tensor, error) {
	shape := t.Shape().Dimensions
	switch t.DType() {
	case dtypes.Float32:
		data, err := tensors.CopyFlatData[float32](t)
		return Tensor{DType: "F32", Shape: shape, F32: data}, err
	case dtypes.Int64:
		data, err := tensors.CopyFlatData[int64](t)
		return Tensor{DType: "I64", Shape: shape, I64: data}, err
	}
	return Tensor{}, fmt.Errorf("unsupported dtype %s", t.DType())
}

// tensor converts back to a GoMLX tensor.
func (t Tensor) tensor() *tensors.Tensor {
	if t.DType == "I64" {
		if len(t.Shape) == 0 {
			return tensors.FromScalar(t.I64[0])
		}
		return tensors.FromFlatDataAndDimensions(t.I64, t.Shape...)
	}
	if len(t.Shape) == 0 {
		return tensors.FromScalar(t.F32[0])
	}
	return tensors.FromFlatDataAndDimensions(t.F32, t.Shape...)
}

// writeDirAtomic replaces dir with a directory holding exactly files: it writes and syncs a
// sibling temporary directory, moves the old dir to dir+".prev", renames the new one into place
// and only then deletes the old one. At every instant either dir or dir+".prev" is a complete
// checkpoint (resolveCheckpointDir falls back to the latter).
func writeDirAtomic(dir string, files map[string][]byte) error {
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for name, data := range files {
		path := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := writeSynced(path, data); err != nil {
			return err
		}
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	prev := dir + ".prev"
	if err := os.RemoveAll(prev); err != nil {
		return err
	}
	if _, err := os.Stat(dir); err == nil {
		if err := os.Rename(dir, prev); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return err
	}
	return os.RemoveAll(prev)
}

// resolveCheckpointDir returns dir, or dir+".prev" when a crash interrupted writeDirAtomic between
// its two renames.
func resolveCheckpointDir(dir string) string {
	dir = filepath.Clean(dir)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(dir + ".prev"); err == nil {
			return dir + ".prev"
		}
	}
	return dir
}

func writeSynced(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(datasets.TrimBOM(data), v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Float is a float64 that encodes NaN and ±Inf as JSON null (and null back as NaN), so loss
// curves with missing values serialise.
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = Float(math.NaN())
		return nil
	}
	return json.Unmarshal(b, (*float64)(f))
}
