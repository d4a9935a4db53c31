package srppo

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/gomlx/go-huggingface/hub"
	"github.com/gosrppo/gosrppo/datasets"
)

// GPT2Models are the GPT-2 family checkpoints on the Hugging Face hub that run on a CPU, smallest
// first; any hub repository holding a GPT-2 checkpoint loads the same way.
var GPT2Models = []string{"distilgpt2", "gpt2", "gpt2-medium"}

// DefaultPretrainedContext caps prompt + response tokens of a pretrained GPT-2 (which handles
// 1024): training rows and decoding caches scale with it, and chat turns are short.
const DefaultPretrainedContext = 256

// hfGPT2Config is the part of a Hugging Face GPT-2 config.json that maps onto Config. Fields
// absent from a file keep GPT2Config's defaults (see parseGPT2Config).
type hfGPT2Config struct {
	ModelType    string   `json:"model_type"`
	Archs        []string `json:"architectures,omitempty"`
	Activation   string   `json:"activation_function"`
	VocabSize    int      `json:"vocab_size"`
	NEmbd        int      `json:"n_embd"`
	NLayer       int      `json:"n_layer"`
	NHead        int      `json:"n_head"`
	NInner       *int     `json:"n_inner"` // null: 4·n_embd
	NPositions   int      `json:"n_positions"`
	NCtx         int      `json:"n_ctx,omitempty"`
	LayerNormEps float64  `json:"layer_norm_epsilon"`
	Tied         *bool    `json:"tie_word_embeddings,omitempty"` // absent: tied
	BOS          *int32   `json:"bos_token_id,omitempty"`
	EOS          *int32   `json:"eos_token_id,omitempty"`
	// Variants of the attention this model does not implement.
	ScaleAttn    *bool `json:"scale_attn_weights,omitempty"`
	ScaleByLayer bool  `json:"scale_attn_by_inverse_layer_idx,omitempty"`
	// SRPPOContext is Config.Context when it caps n_positions, written by SaveModel so that a
	// fine-tuned model reloads with the length it was trained at; transformers ignores it.
	SRPPOContext int `json:"srppo_context,omitempty"`
	// SRPPORole is the checkpoint's role (RoleBase, RoleSFT, …), written by SaveModel.
	SRPPORole string `json:"srppo_role,omitempty"`
}

// parseGPT2Config maps a Hugging Face GPT-2 config.json onto Config: n_embd, n_layer, n_head,
// n_inner (null: 4·n_embd), vocab_size, layer_norm_epsilon and tie_word_embeddings, with learned
// positions; the position table keeps all n_positions rows (MaxPositions) while Context is
// srppo_context when present, else n_positions. Unsupported variants are errors naming the field.
func parseGPT2Config(data []byte, path string) (Config, error) {
	hc := hfGPT2Config{VocabSize: 50257, NEmbd: 768, NLayer: 12, NHead: 12, NPositions: 1024, LayerNormEps: 1e-5, Activation: "gelu_new"}
	if err := json.Unmarshal(datasets.TrimBOM(data), &hc); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case hc.ModelType != "gpt2":
		return Config{}, fmt.Errorf("%s: model_type %q: only GPT-2 checkpoints (model_type \"gpt2\") are supported", path, hc.ModelType)
	case hc.Activation != "gelu_new" && hc.Activation != "gelu_pytorch_tanh":
		return Config{}, fmt.Errorf("%s: activation_function %q: the model implements GPT-2's gelu_new (tanh approximation) only", path, hc.Activation)
	case (hc.ScaleAttn != nil && !*hc.ScaleAttn) || hc.ScaleByLayer:
		return Config{}, fmt.Errorf("%s: scale_attn_weights false or scale_attn_by_inverse_layer_idx true is not supported", path)
	case hc.SRPPOContext < 0 || hc.SRPPOContext > hc.NPositions:
		return Config{}, fmt.Errorf("%s: srppo_context %d outside 1…n_positions (%d)", path, hc.SRPPOContext, hc.NPositions)
	}
	cfg := Config{VocabSize: hc.VocabSize, DModel: hc.NEmbd, Layers: hc.NLayer, Heads: hc.NHead, DFF: 4 * hc.NEmbd,
		Context: hc.NPositions, MaxPositions: hc.NPositions, Positions: PositionsLearned, RoPEBase: 10000,
		TiedEmbeddings: hc.Tied == nil || *hc.Tied, LayerNormEps: hc.LayerNormEps}
	if hc.NInner != nil {
		cfg.DFF = *hc.NInner
	}
	if hc.SRPPOContext > 0 {
		cfg.Context = hc.SRPPOContext
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// gpt2Role is the role of a Hugging Face config.json: its srppo_role; without one, a base model
// when the file has no srppo_context either (a hub checkpoint) and unknown ("") otherwise (a
// fine-tuned model written before roles were recorded).
func gpt2Role(raw []byte) string {
	var hc hfGPT2Config
	if json.Unmarshal(datasets.TrimBOM(raw), &hc) != nil {
		return ""
	}
	if hc.SRPPORole == "" && hc.SRPPOContext == 0 {
		return RoleBase
	}
	return hc.SRPPORole
}

// gpt2ConfigJSON is the Hugging Face GPT-2 config.json of cfg, with tok's EOS as bos/eos id.
func gpt2ConfigJSON(cfg Config, tok datasets.TextTokenizer, role string) ([]byte, error) {
	if cfg.Positions != PositionsLearned {
		return nil, fmt.Errorf("a model with %s positions cannot be written as a GPT-2 checkpoint (learned positions only)", cfg.Positions)
	}
	if tok.VocabSize() > cfg.VocabSize {
		return nil, fmt.Errorf("tokenizer has %d ids, the model's vocabulary %d", tok.VocabSize(), cfg.VocabSize)
	}
	eos := tok.EOS()
	n := cfg.positionRows()
	hc := hfGPT2Config{ModelType: "gpt2", Archs: []string{"GPT2LMHeadModel"}, Activation: "gelu_new", VocabSize: cfg.VocabSize,
		NEmbd: cfg.DModel, NLayer: cfg.Layers, NHead: cfg.Heads, NPositions: n, NCtx: n, LayerNormEps: cfg.LayerNormEps,
		Tied: &cfg.TiedEmbeddings, BOS: &eos, EOS: &eos, SRPPORole: role}
	if cfg.DFF != 4*cfg.DModel {
		hc.NInner = &cfg.DFF
	}
	if cfg.Context != n {
		hc.SRPPOContext = cfg.Context
	}
	return json.MarshalIndent(hc, "", "  ")
}

// gpt2Buffer matches the attention-mask buffers that older GPT-2 checkpoints store as tensors.
var gpt2Buffer = regexp.MustCompile(`^h\.\d+\.attn\.(bias|masked_bias)$`)

// gpt2Tensors renames a Hugging Face GPT-2 checkpoint's tensors to the model's parameter names: it
// strips the "transformer." prefix that save_pretrained writes and drops the attention-mask
// buffers (h.N.attn.bias, h.N.attn.masked_bias) and, when tied, lm_head.weight (a copy of wte).
func gpt2Tensors(ts map[string]Tensor, tied bool) map[string]Tensor {
	out := make(map[string]Tensor, len(ts))
	for name, t := range ts {
		name = strings.TrimPrefix(name, "transformer.")
		if gpt2Buffer.MatchString(name) || (tied && name == "lm_head.weight") {
			continue
		}
		out[name] = t
	}
	return out
}

// loadHFTokenizer reads the tokenizer of a Hugging Face checkpoint of cfg's family.
func loadHFTokenizer(dir string, cfg Config) (*datasets.BPE, error) {
	if cfg.llama() {
		return datasets.LoadChatBPE(dir)
	}
	return loadGPT2Tokenizer(dir)
}

// loadGPT2Tokenizer reads dir's tokenizer.json, or GPT-2's original vocab.json and merges.txt.
func loadGPT2Tokenizer(dir string) (*datasets.BPE, error) {
	path := filepath.Join(dir, TokenizerFile)
	if _, err := os.Stat(path); err == nil {
		return datasets.LoadBPE(path)
	}
	vocab, merges := filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt")
	if _, err := os.Stat(vocab); err != nil {
		return nil, fmt.Errorf("neither %s nor vocab.json + merges.txt in the directory", TokenizerFile)
	}
	return datasets.LoadBPEFiles(vocab, merges)
}

// LoadPretrained loads a GPT-2 or Llama-family (Llama, Qwen2, Qwen3, Mistral; see
// parseLlamaConfig) checkpoint, the latter with tokenizer.json and tokenizer_config.json and
// possibly sharded weights. For GPT-2 it reads (config.json, model.safetensors, tokenizer.json or
// vocab.json + merges.txt): from dir when it is set — offline; a fine-tuned model's directory or
// its run directory works too — and otherwise from the Hugging Face hub repository name (e.g.
// "distilgpt2"), downloaded into the standard cache by DownloadPretrained. context caps prompt +
// response tokens (0: the checkpoint's own, its srppo_context or n_positions); it must not exceed
// n_positions.
func LoadPretrained(name, dir string, context int) (*LM, error) {
	var err error
	if dir == "" {
		if name == "" {
			return nil, fmt.Errorf("pretrained model: give a hub name (e.g. %s) or a local directory", strings.Join(GPT2Models, ", "))
		}
		if dir, err = DownloadPretrained(name); err != nil {
			return nil, err
		}
	}
	if dir, err = modelDir(dir); err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	cfg, err := parseHFConfig(raw, filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	if cfg.llama() && context > 0 {
		if cfg.Context = context; cfg.Validate() != nil {
			return nil, fmt.Errorf("pretrained model %s: context %d: %w", dir, context, cfg.Validate())
		}
	}
	if context > cfg.positionRows() && !cfg.llama() {
		return nil, fmt.Errorf("pretrained model %s: context %d exceeds its n_positions %d", dir, context, cfg.positionRows())
	}
	if context > 0 {
		cfg.Context = context
	}
	return LoadModel(dir, &cfg, nil)
}

// IsGPT2Checkpoint reports whether dir (or the run directory's model) holds a Hugging Face
// checkpoint — a config.json with a model_type — rather than this package's own format.
func IsGPT2Checkpoint(dir string) bool {
	dir, err := modelDir(dir)
	if err != nil {
		return false
	}
	var probe struct {
		ModelType string `json:"model_type"`
	}
	data, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	return err == nil && json.Unmarshal(datasets.TrimBOM(data), &probe) == nil && probe.ModelType != ""
}

// HFCacheDir is the Hugging Face hub cache: $HF_HUB_CACHE, else $HF_HOME/hub, else
// $XDG_CACHE_HOME/huggingface/hub or ~/.cache/huggingface/hub — the one Python's huggingface_hub
// uses, so downloads are shared.
func HFCacheDir() string {
	if d := os.Getenv("HF_HUB_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("HF_HOME"); d != "" {
		return filepath.Join(d, "hub")
	}
	return hub.DefaultCacheDir()
}

// hfToken is $HF_TOKEN, else the token `huggingface-cli login` stored in $HF_HOME/token.
func hfToken() string {
	if t := os.Getenv("HF_TOKEN"); t != "" {
		return t
	}
	home := os.Getenv("HF_HOME")
	if home == "" {
		home = filepath.Dir(hub.DefaultCacheDir())
	}
	data, _ := os.ReadFile(filepath.Join(home, "token"))
	return strings.TrimSpace(string(data))
}

// DownloadPretrained downloads a GPT-2 checkpoint's config.json, model.safetensors and
// tokenizer.json (or vocab.json + merges.txt) from the Hugging Face hub into HFCacheDir(), with
// $HF_TOKEN for gated or private repositories, and returns the snapshot directory. Files already
// in the cache are not downloaded again. With HF_HUB_OFFLINE=1 it only looks in the cache.
func DownloadPretrained(repoID string) (string, error) {
	cache := HFCacheDir()
	if off := os.Getenv("HF_HUB_OFFLINE"); off != "" && off != "0" && !strings.EqualFold(off, "false") {
		return cachedSnapshot(cache, repoID)
	}
	repo := hub.New(repoID).WithCacheDir(cache).WithAuth(hfToken())
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("downloading %s from the Hugging Face hub into %s: %w (offline: pass -model-dir with a local copy, or set HF_HUB_OFFLINE=1 to use the cache)", repoID, cache, err)
	}
	files := []string{ConfigFile, WeightsFile, TokenizerFile}
	if !repo.HasFile(TokenizerFile) {
		files = []string{ConfigFile, WeightsFile, "vocab.json", "merges.txt"}
	}
	if repo.HasFile(TokenizerConfigFile) { // the chat template of Llama-family models
		files = append(files, TokenizerConfigFile)
	}
	if !repo.HasFile(WeightsFile) && repo.HasFile(WeightsIndexFile) { // sharded weights
		index, err := repo.DownloadFile(WeightsIndexFile)
		if err != nil {
			return fail(err)
		}
		shards, err := shardFiles(index)
		if err != nil {
			return fail(err)
		}
		files = append(slices.DeleteFunc(files, func(f string) bool { return f == WeightsFile }), shards...)
	}
	paths, err := repo.DownloadFiles(files...)
	if err != nil {
		return fail(err)
	}
	return filepath.Dir(paths[0]), nil
}

// cachedSnapshot finds repoID's snapshot of the main revision in a hub cache: the commit named by
// refs/main (written by Python's huggingface_hub) or by info/main (go-huggingface).
func cachedSnapshot(cache, repoID string) (string, error) {
	repoDir := filepath.Join(cache, "models--"+strings.ReplaceAll(repoID, "/", "--"))
	var commit string
	if data, err := os.ReadFile(filepath.Join(repoDir, "refs", "main")); err == nil {
		commit = strings.TrimSpace(string(data))
	} else if data, err := os.ReadFile(filepath.Join(repoDir, "info", "main")); err == nil {
		var info struct {
			SHA string `json:"sha"`
		}
		if json.Unmarshal(data, &info) == nil {
			commit = info.SHA
		}
	}
	dir := filepath.Join(repoDir, "snapshots", commit)
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); commit == "" || errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("HF_HUB_OFFLINE is set and %s is not in the cache %s (download it once online, or pass -model-dir)", repoID, cache)
	}
	return dir, nil
}
