// Package tinyllama writes tiny random Llama-family checkpoints (Llama 3, Qwen2, Qwen3, Mistral)
// in Hugging Face's layout — config.json, model.safetensors (or shards with
// model.safetensors.index.json), tokenizer.json and tokenizer_config.json — for tests. It shares
// no code with the loaders it tests.
package tinyllama

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Options shape a tiny checkpoint.
type Options struct {
	Family                    string // "llama", "qwen2", "qwen3" or "mistral"
	Layers, DModel, Heads     int
	KVHeads, HeadDim, DFF     int // HeadDim 0: DModel/Heads
	Positions                 int
	RopeTheta                 float64
	Llama3Scaling             bool // rope_scaling {"rope_type": "llama3", factor 8, low 1, high 4, original 16}
	Tied                      bool
	Shards                    int    // >1: that many shard files with an index
	DType                     string // "F32" (default), "BF16" or "F16"
	Seed                      uint64
	SlidingWindow             int // Mistral's sliding_window (0: null)
	ExtraConfig               map[string]any
	InvFreqBuffers, HeadExtra bool // also write rotary inv_freq buffers / an lm_head copy when tied
}

// Defaults by family: GQA (4 heads, 2 kv heads), d 32; Qwen3 with head_dim 16 ≠ 32/4 and QK-norm.
func Defaults(family string) Options {
	o := Options{Family: family, Layers: 2, DModel: 32, Heads: 4, KVHeads: 2, DFF: 48, Positions: 64, RopeTheta: 10000, Seed: 1}
	switch family {
	case "llama":
		o.RopeTheta, o.Llama3Scaling = 500000, true
	case "qwen2":
		o.RopeTheta, o.Tied = 1000000, true
	case "qwen3":
		o.HeadDim, o.Tied, o.RopeTheta = 16, true, 1000000
	case "mistral":
		o.KVHeads = 1
	}
	return o
}

func (o Options) headDim() int {
	if o.HeadDim > 0 {
		return o.HeadDim
	}
	return o.DModel / o.Heads
}

// Shapes lists every parameter by Hugging Face name, linear weights [out, in].
func (o Options) Shapes() map[string][]int {
	d, f, dh := o.DModel, o.DFF, o.headDim()
	q, kv := o.Heads*dh, o.KVHeads*dh
	s := map[string][]int{"model.embed_tokens.weight": {VocabSize(o.Family), d}, "model.norm.weight": {d}}
	for l := range o.Layers {
		p := fmt.Sprintf("model.layers.%d.", l)
		s[p+"input_layernorm.weight"] = []int{d}
		s[p+"post_attention_layernorm.weight"] = []int{d}
		s[p+"self_attn.q_proj.weight"] = []int{q, d}
		s[p+"self_attn.k_proj.weight"] = []int{kv, d}
		s[p+"self_attn.v_proj.weight"] = []int{kv, d}
		s[p+"self_attn.o_proj.weight"] = []int{d, q}
		s[p+"mlp.gate_proj.weight"] = []int{f, d}
		s[p+"mlp.up_proj.weight"] = []int{f, d}
		s[p+"mlp.down_proj.weight"] = []int{d, f}
		if o.Family == "qwen2" {
			s[p+"self_attn.q_proj.bias"] = []int{q}
			s[p+"self_attn.k_proj.bias"] = []int{kv}
			s[p+"self_attn.v_proj.bias"] = []int{kv}
		}
		if o.Family == "qwen3" {
			s[p+"self_attn.q_norm.weight"] = []int{dh}
			s[p+"self_attn.k_norm.weight"] = []int{dh}
		}
	}
	if !o.Tied {
		s["lm_head.weight"] = []int{VocabSize(o.Family), d}
	}
	return s
}

// Config is the config.json of the checkpoint.
func (o Options) Config() map[string]any {
	arch := map[string]string{"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM", "mistral": "MistralForCausalLM"}[o.Family]
	cfg := map[string]any{
		"architectures": []string{arch}, "model_type": o.Family, "vocab_size": VocabSize(o.Family), "hidden_size": o.DModel,
		"intermediate_size": o.DFF, "num_hidden_layers": o.Layers, "num_attention_heads": o.Heads,
		"num_key_value_heads": o.KVHeads, "max_position_embeddings": o.Positions, "rms_norm_eps": 1e-6,
		"rope_theta": o.RopeTheta, "rope_scaling": nil, "tie_word_embeddings": o.Tied, "hidden_act": "silu",
		"torch_dtype": "bfloat16", "initializer_range": 0.02, "attention_dropout": 0.0, "use_cache": true,
		"bos_token_id": 0, "eos_token_id": 1,
	}
	if o.HeadDim > 0 {
		cfg["head_dim"] = o.HeadDim
	}
	if o.Llama3Scaling {
		cfg["rope_scaling"] = map[string]any{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 16}
	}
	switch o.Family {
	case "llama":
		cfg["attention_bias"], cfg["mlp_bias"], cfg["pretraining_tp"] = false, false, 1
	case "qwen2", "qwen3":
		cfg["use_sliding_window"], cfg["sliding_window"], cfg["max_window_layers"] = false, 4096, o.Layers
		if o.Family == "qwen3" {
			cfg["attention_bias"] = false
		}
	case "mistral":
		cfg["sliding_window"] = nil
		if o.SlidingWindow > 0 {
			cfg["sliding_window"] = o.SlidingWindow
		}
	}
	for k, v := range o.ExtraConfig {
		cfg[k] = v
	}
	return cfg
}

// Write writes the checkpoint to dir and returns its parameters by Hugging Face name, as the
// loader must see them (rounded to the stored dtype). Weights are N(0, 0.3) (norm gains 1 + that).
func Write(dir string, o Options) (map[string][]float32, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(o.Seed, 17))
	shapes := o.Shapes()
	params := map[string][]float32{}
	for _, name := range sortedKeys(shapes) {
		n := 1
		for _, d := range shapes[name] {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = round(float32(rng.NormFloat64()*0.3), o.DType)
			if strings.HasSuffix(name, "norm.weight") {
				data[i] = round(data[i]+1, o.DType)
			}
		}
		params[name] = data
	}
	files := map[string][]byte{"config.json": mustJSON(o.Config())}
	stored := map[string][]float32{}
	for k, v := range params {
		stored[k] = v
	}
	storedShapes := map[string][]int{}
	for k, v := range shapes {
		storedShapes[k] = v
	}
	if o.Tied && o.HeadExtra {
		stored["lm_head.weight"] = params["model.embed_tokens.weight"]
		storedShapes["lm_head.weight"] = shapes["model.embed_tokens.weight"]
	}
	if o.InvFreqBuffers {
		for l := range o.Layers {
			name := fmt.Sprintf("model.layers.%d.self_attn.rotary_emb.inv_freq", l)
			stored[name] = make([]float32, o.headDim()/2)
			storedShapes[name] = []int{o.headDim() / 2}
		}
	}
	names := sortedKeys(stored)
	if o.Shards <= 1 {
		files["model.safetensors"] = encode(names, stored, storedShapes, o.DType)
	} else {
		weightMap := map[string]string{}
		for s := range o.Shards {
			shard := fmt.Sprintf("model-%05d-of-%05d.safetensors", s+1, o.Shards)
			var part []string
			for i, n := range names {
				if i%o.Shards == s {
					part = append(part, n)
					weightMap[n] = shard
				}
			}
			files[shard] = encode(part, stored, storedShapes, o.DType)
		}
		files["model.safetensors.index.json"] = mustJSON(map[string]any{"metadata": map[string]any{"total_size": 0}, "weight_map": weightMap})
	}
	files["tokenizer.json"] = TokenizerJSON(o.Family)
	files["tokenizer_config.json"] = TokenizerConfigJSON(o.Family)
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return nil, err
		}
	}
	return params, nil
}

// round rounds v to the precision of dtype (round to nearest even), as the loader widens it back.
func round(v float32, dtype string) float32 {
	switch dtype {
	case "BF16":
		return math.Float32frombits(uint32(toBF16(v)) << 16)
	case "F16":
		return fromF16(toF16(v))
	}
	return v
}

func toBF16(v float32) uint16 {
	b := math.Float32bits(v)
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// toF16 converts normal-range values (|v| < 65504, not subnormal) to IEEE half precision.
func toF16(v float32) uint16 {
	b := math.Float32bits(v)
	sign := uint16(b>>16) & 0x8000
	exp := int((b>>23)&0xff) - 127 + 15
	mant := b & 0x7fffff
	if exp <= 0 {
		return sign // tiny values flush to zero; the tests' weights are never that small and nonzero
	}
	// round to nearest even on the 13 dropped bits
	m := mant >> 13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && m&1 == 1) {
		m++
		if m == 0x400 {
			m, exp = 0, exp+1
		}
	}
	return sign | uint16(exp)<<10 | uint16(m)
}

func fromF16(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	if exp == 0 && mant == 0 {
		return math.Float32frombits(sign)
	}
	return math.Float32frombits(sign | (exp-15+127)<<23 | mant<<13)
}

// encode writes tensors in the safetensors layout in the given dtype.
func encode(names []string, ts map[string][]float32, shapes map[string][]int, dtype string) []byte {
	if dtype == "" {
		dtype = "F32"
	}
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var data bytes.Buffer
	for _, name := range names {
		start := data.Len()
		for _, v := range ts[name] {
			switch dtype {
			case "F32":
				binary.Write(&data, binary.LittleEndian, math.Float32bits(v))
			case "BF16":
				binary.Write(&data, binary.LittleEndian, toBF16(v))
			case "F16":
				binary.Write(&data, binary.LittleEndian, toF16(v))
			}
		}
		header[name] = map[string]any{"dtype": dtype, "shape": shapes[name], "data_offsets": []int{start, data.Len()}}
	}
	h := mustJSON(header)
	var out bytes.Buffer
	binary.Write(&out, binary.LittleEndian, uint64(len(h)))
	out.Write(h)
	out.Write(data.Bytes())
	return out.Bytes()
}

// Merges of the tiny tokenizers by rank; their results get ids 256… in this order.
var Merges = [][2]string{{"h", "e"}, {"l", "o"}, {"he", "l"}, {"Ġ", "w"}, {"o", "r"}, {"Ġw", "or"}, {"1", "2"}, {"12", "3"}}

// SpecialTokens of each family's tiny tokenizer, with ids from 256+len(Merges) on.
func SpecialTokens(family string) []string {
	if family == "llama" || family == "mistral" {
		return []string{"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"}
	}
	toks := []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>"}
	if family == "qwen3" {
		toks = append(toks, "<think>", "</think>")
	}
	return toks
}

// VocabSize is the size of a family's tiny vocabulary.
func VocabSize(family string) int { return 256 + len(Merges) + len(SpecialTokens(family)) }

// ID returns the id of a special token of the family's tiny tokenizer (-1 if absent).
func ID(family, tok string) int32 {
	for i, t := range SpecialTokens(family) {
		if t == tok {
			return int32(256 + len(Merges) + i)
		}
	}
	return -1
}

// byteSymbol is GPT-2's bytes_to_unicode() for one byte.
func byteSymbol(b int) string {
	printable := func(c int) bool {
		return (c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF)
	}
	if printable(b) {
		return string(rune(b))
	}
	n := 0
	for c := 0; c < b; c++ {
		if !printable(c) {
			n++
		}
	}
	return string(rune(0x100 + n))
}

// Patterns of the Split pre-tokenizers, as in the real tokenizer.json files.
const (
	Llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	Qwen2Pattern  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// TokenizerJSON is the family's tiny tokenizer.json (Llama 3's layout for llama/mistral, Qwen2's
// with an NFC normalizer for qwen2/qwen3).
func TokenizerJSON(family string) []byte {
	vocab := map[string]int{}
	for b := range 256 {
		vocab[byteSymbol(b)] = b
	}
	var merges []string
	for i, m := range Merges {
		vocab[m[0]+m[1]] = 256 + i
		merges = append(merges, m[0]+" "+m[1])
	}
	var added []map[string]any
	for _, t := range SpecialTokens(family) {
		added = append(added, map[string]any{"id": ID(family, t), "content": t, "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": false, "special": !strings.HasPrefix(t, "<think") && !strings.HasPrefix(t, "</think")})
	}
	llama := family == "llama" || family == "mistral"
	pattern, normalizer := Qwen2Pattern, any(map[string]any{"type": "NFC"})
	if llama {
		pattern, normalizer = Llama3Pattern, nil
	}
	bl := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}
	return mustJSON(map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added, "normalizer": normalizer,
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": pattern}, "behavior": "Isolated", "invert": false}, bl}},
		"post_processor": bl, "decoder": bl,
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": llama, "vocab": vocab, "merges": merges},
	})
}

// Chat templates of the tiny tokenizers: Llama 3's, Qwen2.5's ChatML (with its default system
// message, shortened), Qwen3's thinking switch.
const (
	Llama3Template = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
	Qwen2Template  = "{%- if messages[0]['role'] == 'system' %}\n    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n{%- else %}\n    {{- '<|im_start|>system\\nYou are a tiny helper.<|im_end|>\\n' }}\n{%- endif %}\n{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}{%- endfor %}\n{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
	Qwen3Template  = "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n    {%- if enable_thinking is defined and enable_thinking is false %}\n        {{- '<think>\\n\\n</think>\\n\\n' }}\n    {%- endif %}\n{%- endif %}"
)

// TokenizerConfigJSON is the family's tiny tokenizer_config.json.
func TokenizerConfigJSON(family string) []byte {
	cfg := map[string]any{"tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": false}
	switch family {
	case "llama", "mistral":
		cfg["chat_template"], cfg["bos_token"], cfg["eos_token"] = Llama3Template, "<|begin_of_text|>", "<|eot_id|>"
	case "qwen2":
		cfg["chat_template"], cfg["eos_token"] = Qwen2Template, "<|im_end|>"
	default:
		cfg["chat_template"], cfg["eos_token"] = Qwen3Template, "<|im_end|>"
	}
	return mustJSON(cfg)
}

func mustJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
