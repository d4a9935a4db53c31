package srppo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/gosrppo/gosrppo/datasets"
)

// LlamaModels are small Llama-family checkpoints on the Hugging Face hub that this package loads
// (any LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM or MistralForCausalLM loads the same way).
var LlamaModels = []string{"HuggingFaceTB/SmolLM2-135M-Instruct", "Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen3-0.6B"}

// llamaArchitectures maps each supported model_type to its transformers class.
var llamaArchitectures = map[string]string{
	FamilyLlama: "LlamaForCausalLM", FamilyQwen2: "Qwen2ForCausalLM", FamilyQwen3: "Qwen3ForCausalLM", FamilyMistral: "MistralForCausalLM",
}

// hfLlamaConfig is the part of a Llama-family config.json that maps onto Config.
type hfLlamaConfig struct {
	ModelType        string          `json:"model_type"`
	Archs            []string        `json:"architectures,omitempty"`
	VocabSize        int             `json:"vocab_size"`
	Hidden           int             `json:"hidden_size"`
	Intermediate     int             `json:"intermediate_size"`
	Layers           int             `json:"num_hidden_layers"`
	Heads            int             `json:"num_attention_heads"`
	KVHeads          *int            `json:"num_key_value_heads,omitempty"`
	HeadDim          *int            `json:"head_dim,omitempty"`
	MaxPositions     int             `json:"max_position_embeddings"`
	RMSNormEps       float64         `json:"rms_norm_eps"`
	RopeTheta        float64         `json:"rope_theta"`
	RopeScaling      json.RawMessage `json:"rope_scaling,omitempty"`
	Tied             *bool           `json:"tie_word_embeddings,omitempty"`
	HiddenAct        string          `json:"hidden_act"`
	AttentionBias    *bool           `json:"attention_bias,omitempty"`
	MLPBias          *bool           `json:"mlp_bias,omitempty"`
	SlidingWindow    *int            `json:"sliding_window,omitempty"`
	UseSlidingWindow *bool           `json:"use_sliding_window,omitempty"`
	BOS              json.RawMessage `json:"bos_token_id,omitempty"`
	EOS              json.RawMessage `json:"eos_token_id,omitempty"`
	TorchDType       string          `json:"torch_dtype,omitempty"`
	SRPPOContext     int             `json:"srppo_context,omitempty"`
}

// moeFields are config.json fields of mixture-of-experts variants, which are not implemented.
var moeFields = []string{"num_experts", "num_local_experts", "num_experts_per_tok", "moe_intermediate_size",
	"shared_expert_intermediate_size", "decoder_sparse_step", "router_aux_loss_coef", "n_routed_experts"}

// parseLlamaConfig maps a Llama-family config.json (model_type llama, qwen2, qwen3 or mistral) onto
// Config. Fields that would change the computation and are not implemented are errors naming the
// field: hidden_act other than silu, rope_scaling other than null or llama3, attention_bias on
// Llama, Qwen3 and Mistral (which would also bias o_proj), mlp_bias, use_sliding_window, a
// sliding_window shorter than the context (checked by Config.Validate), and MoE fields.
func parseLlamaConfig(data []byte, path string) (Config, error) {
	hc := hfLlamaConfig{RMSNormEps: 1e-6, RopeTheta: 10000, HiddenAct: "silu"}
	if err := json.Unmarshal(data, &hc); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	arch, ok := llamaArchitectures[hc.ModelType]
	if !ok {
		return Config{}, fmt.Errorf("%s: model_type %q is not a supported Llama-family type (llama, qwen2, qwen3, mistral)", path, hc.ModelType)
	}
	for _, f := range moeFields {
		if v, ok := all[f]; ok && string(v) != "null" && string(v) != "0" {
			return Config{}, fmt.Errorf("%s: %s %s: mixture-of-experts models are not supported", path, f, v)
		}
	}
	if v, ok := all["partial_rotary_factor"]; ok && string(v) != "1" && string(v) != "1.0" && string(v) != "null" {
		return Config{}, fmt.Errorf("%s: partial_rotary_factor %s: only full rotary embeddings are supported", path, v)
	}
	bias := hc.AttentionBias != nil && *hc.AttentionBias
	switch {
	case len(hc.Archs) > 0 && !slices.Contains(hc.Archs, arch):
		return Config{}, fmt.Errorf("%s: architectures %v: model_type %s loads as %s only", path, hc.Archs, hc.ModelType, arch)
	case hc.HiddenAct != "silu":
		return Config{}, fmt.Errorf("%s: hidden_act %q: the SwiGLU MLP is implemented with silu only", path, hc.HiddenAct)
	case bias && hc.ModelType != FamilyQwen2:
		return Config{}, fmt.Errorf("%s: attention_bias true is not supported for %s (it also biases o_proj)", path, hc.ModelType)
	case hc.MLPBias != nil && *hc.MLPBias:
		return Config{}, fmt.Errorf("%s: mlp_bias true is not supported", path)
	case hc.UseSlidingWindow != nil && *hc.UseSlidingWindow:
		return Config{}, fmt.Errorf("%s: use_sliding_window true: sliding-window attention is not implemented", path)
	case hc.Hidden <= 0 || hc.Layers <= 0 || hc.Heads <= 0 || hc.Intermediate <= 0 || hc.VocabSize <= 0:
		return Config{}, fmt.Errorf("%s: hidden_size, intermediate_size, num_hidden_layers, num_attention_heads and vocab_size must be > 0", path)
	case hc.MaxPositions <= 1:
		return Config{}, fmt.Errorf("%s: max_position_embeddings %d must be > 1", path, hc.MaxPositions)
	case hc.SRPPOContext < 0 || hc.SRPPOContext > hc.MaxPositions:
		return Config{}, fmt.Errorf("%s: srppo_context %d outside 1…max_position_embeddings (%d)", path, hc.SRPPOContext, hc.MaxPositions)
	}
	scaling, err := parseRoPEScaling(hc.RopeScaling)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	cfg := Config{Family: hc.ModelType, VocabSize: hc.VocabSize, DModel: hc.Hidden, Layers: hc.Layers, Heads: hc.Heads,
		DFF: hc.Intermediate, Context: hc.MaxPositions, MaxPositions: hc.MaxPositions, Positions: PositionsRoPE,
		RoPEBase: hc.RopeTheta, RoPEScaling: scaling, TiedEmbeddings: hc.Tied != nil && *hc.Tied, LayerNormEps: hc.RMSNormEps,
		QKNorm: hc.ModelType == FamilyQwen3, QKVBias: hc.ModelType == FamilyQwen2 || bias}
	if hc.KVHeads != nil && *hc.KVHeads != hc.Heads {
		cfg.KVHeads = *hc.KVHeads
	}
	if hc.HeadDim != nil && *hc.HeadDim != hc.Hidden/hc.Heads {
		cfg.HeadDimension = *hc.HeadDim
	}
	// Qwen2/Qwen3 configs carry sliding_window even when use_sliding_window is false (then unused).
	if hc.ModelType == FamilyMistral && hc.SlidingWindow != nil {
		cfg.SlidingWindow = *hc.SlidingWindow
	}
	if hc.SRPPOContext > 0 {
		cfg.Context = hc.SRPPOContext
	} else if cfg.SlidingWindow > 0 && cfg.Context > cfg.SlidingWindow {
		cfg.Context = cfg.SlidingWindow
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// parseRoPEScaling reads rope_scaling: null, or {"rope_type" (or "type"): "llama3", factor, …}.
func parseRoPEScaling(raw json.RawMessage) (RoPEScaling, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return RoPEScaling{}, nil
	}
	var rs struct {
		RoPEScaling
		OldType string `json:"type"`
	}
	if err := json.Unmarshal(raw, &rs); err != nil {
		return RoPEScaling{}, fmt.Errorf("rope_scaling: %w", err)
	}
	s := rs.RoPEScaling
	if s.Type == "" {
		s.Type = rs.OldType
	}
	switch s.Type {
	case "default":
		return RoPEScaling{}, nil
	case "llama3":
		return s, nil
	}
	return RoPEScaling{}, fmt.Errorf("rope_scaling type %q is not implemented (only null and \"llama3\")", s.Type)
}

// llamaConfigJSON is the Hugging Face config.json of a Llama-family cfg, with the tokenizer's
// response EOS as eos_token_id (and its BOS, where it has one, as bos_token_id) and the checkpoint's
// role as srppo_role (see gpt2Role).
func llamaConfigJSON(cfg Config, tok datasets.TextTokenizer, role string) ([]byte, error) {
	if tok.VocabSize() > cfg.VocabSize {
		return nil, fmt.Errorf("tokenizer has %d ids, the model's vocabulary %d", tok.VocabSize(), cfg.VocabSize)
	}
	hc := map[string]any{
		"model_type": cfg.Family, "architectures": []string{llamaArchitectures[cfg.Family]}, "vocab_size": cfg.VocabSize,
		"hidden_size": cfg.DModel, "intermediate_size": cfg.DFF, "num_hidden_layers": cfg.Layers,
		"num_attention_heads": cfg.Heads, "num_key_value_heads": cfg.KVHeadCount(), "head_dim": cfg.HeadDim(),
		"max_position_embeddings": cfg.MaxPositions, "rms_norm_eps": cfg.LayerNormEps, "rope_theta": cfg.RoPEBase,
		"rope_scaling": nil, "tie_word_embeddings": cfg.TiedEmbeddings, "hidden_act": "silu",
		"eos_token_id": tok.EOS(), "torch_dtype": "float32", "attention_dropout": 0.0, "use_cache": true,
	}
	if role != "" {
		hc["srppo_role"] = role
	}
	if cfg.MaxPositions == 0 {
		hc["max_position_embeddings"] = cfg.Context
	} else if cfg.Context != cfg.MaxPositions {
		hc["srppo_context"] = cfg.Context
	}
	if b, ok := tok.(interface{ BOS() (int32, bool) }); ok {
		if id, has := b.BOS(); has {
			hc["bos_token_id"] = id
		}
	}
	if s := cfg.RoPEScaling; s.Type != "" {
		hc["rope_scaling"] = s
	}
	switch cfg.Family {
	case FamilyLlama:
		hc["attention_bias"], hc["mlp_bias"] = false, false
	case FamilyQwen2, FamilyQwen3:
		hc["use_sliding_window"], hc["sliding_window"] = false, nil
		if cfg.Family == FamilyQwen3 {
			hc["attention_bias"] = false
		}
	case FamilyMistral:
		hc["sliding_window"] = nil
		if cfg.SlidingWindow > 0 {
			hc["sliding_window"] = cfg.SlidingWindow
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(hc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// llamaBuffer matches rotary-frequency buffers that older checkpoints store as tensors.
var llamaBuffer = regexp.MustCompile(`^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$`)

// llamaTensors drops what a Llama-family checkpoint may hold besides the parameters: rotary
// inv_freq buffers and, when tied, an lm_head.weight copy of the embeddings.
func llamaTensors(ts map[string]Tensor, tied bool) map[string]Tensor {
	out := make(map[string]Tensor, len(ts))
	for name, t := range ts {
		if llamaBuffer.MatchString(name) || (tied && name == llamaHead) {
			continue
		}
		out[name] = t
	}
	return out
}

// hfModelType reads config.json's model_type ("" for this package's own format).
func hfModelType(data []byte) string {
	var probe struct {
		ModelType string `json:"model_type"`
	}
	json.Unmarshal(data, &probe)
	return probe.ModelType
}

// parseHFConfig dispatches on model_type: GPT-2 or the Llama family.
func parseHFConfig(data []byte, path string) (Config, error) {
	switch mt := hfModelType(data); {
	case mt == "gpt2":
		return parseGPT2Config(data, path)
	case llamaArchitectures[mt] != "":
		cfg, err := parseLlamaConfig(data, path)
		if err != nil {
			return Config{}, fmt.Errorf("model_type %q: %w", mt, err)
		}
		return cfg, nil
	default:
		types := []string{"gpt2"}
		for t := range llamaArchitectures {
			types = append(types, t)
		}
		sort.Strings(types)
		return Config{}, fmt.Errorf("%s: model_type %q is not supported (supported: %s)", path, mt, strings.Join(types, ", "))
	}
}
