// Package tinygpt2 writes tiny random GPT-2 checkpoints in Hugging Face's layout — config.json,
// model.safetensors and a byte-level BPE tokenizer.json — for tests. It shares no code with the
// loaders it tests: its byte-to-character map and safetensors writer are its own.
package tinygpt2

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

// Merges of the tiny tokenizer by rank; their results get ids 256… in this order.
var Merges = [][2]string{{"h", "e"}, {"l", "o"}, {"he", "l"}, {"Ġ", "w"}, {"o", "r"}, {"Ġw", "or"}}

// VocabSize is the tiny vocabulary's size: 256 byte symbols, 6 merges, <|endoftext|>.
const VocabSize = 263

// EOS is the id of <|endoftext|>.
const EOS = 262

// byteSymbol is GPT-2's bytes_to_unicode() for one byte: printable Latin-1 bytes stand for
// themselves, the 68 others are numbered from U+0100 in byte order.
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

// Vocab is the tiny vocabulary: byte b's symbol has id b, merge i's result id 256+i, and
// <|endoftext|> id 262.
func Vocab() map[string]int {
	v := map[string]int{}
	for b := range 256 {
		v[byteSymbol(b)] = b
	}
	for i, m := range Merges {
		v[m[0]+m[1]] = 256 + i
	}
	v["<|endoftext|>"] = EOS
	return v
}

// TokenizerJSON is the tiny tokenizer in Hugging Face's tokenizer.json format, with the merges as
// "a b" strings or, with pairs, as [a, b] lists (newer files).
func TokenizerJSON(pairs bool) []byte {
	var merges any
	if pairs {
		merges = Merges
	} else {
		var s []string
		for _, m := range Merges {
			s = append(s, m[0]+" "+m[1])
		}
		merges = s
	}
	byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	return mustJSON(map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "normalizer": nil,
		"added_tokens": []map[string]any{{"id": EOS, "content": "<|endoftext|>", "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": true, "special": true}},
		"pre_tokenizer": byteLevel, "post_processor": byteLevel, "decoder": byteLevel,
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": "",
			"end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "vocab": Vocab(), "merges": merges},
	})
}

// WriteVocabMerges writes GPT-2's original tokenizer files, vocab.json and merges.txt, to dir.
func WriteVocabMerges(dir string) error {
	var m strings.Builder
	m.WriteString("#version: 0.2\n")
	for _, mg := range Merges {
		m.WriteString(mg[0] + " " + mg[1] + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "merges.txt"), []byte(m.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "vocab.json"), mustJSON(Vocab()), 0o644)
}

// Options shape a tiny checkpoint.
type Options struct {
	Layers, DModel, Heads, Positions int
	Seed                             uint64
	Prefix                           string // "transformer." as save_pretrained writes it, or "" as the hub's gpt2
	Buffers                          bool   // also write the h.N.attn.bias / masked_bias buffers of older checkpoints
	Untied                           bool   // lm_head.weight and "tie_word_embeddings": false
}

// Default is the tiny checkpoint of the tests: 2 layers, d 32, 4 heads, 64 positions, tied.
var Default = Options{Layers: 2, DModel: 32, Heads: 4, Positions: 64, Seed: 1, Buffers: true}

// Shapes lists every parameter of a GPT-2 with these options by Hugging Face name (no prefix).
func (o Options) Shapes() map[string][]int {
	d := o.DModel
	s := map[string][]int{"wte.weight": {VocabSize, d}, "wpe.weight": {o.Positions, d}, "ln_f.weight": {d}, "ln_f.bias": {d}}
	for l := range o.Layers {
		p := fmt.Sprintf("h.%d.", l)
		for name, shape := range map[string][]int{
			"ln_1.weight": {d}, "ln_1.bias": {d}, "ln_2.weight": {d}, "ln_2.bias": {d},
			"attn.c_attn.weight": {d, 3 * d}, "attn.c_attn.bias": {3 * d},
			"attn.c_proj.weight": {d, d}, "attn.c_proj.bias": {d},
			"mlp.c_fc.weight": {d, 4 * d}, "mlp.c_fc.bias": {4 * d},
			"mlp.c_proj.weight": {4 * d, d}, "mlp.c_proj.bias": {d},
		} {
			s[p+name] = shape
		}
	}
	if o.Untied {
		s["lm_head.weight"] = []int{VocabSize, d}
	}
	return s
}

// Write writes config.json, model.safetensors and tokenizer.json of a random GPT-2 to dir and
// returns its parameters by Hugging Face name. Weights are N(0, 0.3) (layer-norm gains 1 + that),
// far from uniform so that comparisons of logits mean something.
func Write(dir string, o Options) (map[string][]float32, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(o.Seed, 11))
	shapes := o.Shapes()
	params := map[string][]float32{}
	tensors := map[string]tensor{}
	for _, name := range sortedKeys(shapes) {
		n := 1
		for _, d := range shapes[name] {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(rng.NormFloat64() * 0.3)
			if strings.Contains(name, "ln_") && strings.HasSuffix(name, ".weight") {
				data[i]++
			}
		}
		params[name] = data
		tensors[o.Prefix+name] = tensor{shapes[name], data}
	}
	if o.Buffers {
		p := o.Positions
		for l := range o.Layers {
			mask := make([]float32, p*p)
			for i := range p {
				for j := 0; j <= i; j++ {
					mask[i*p+j] = 1
				}
			}
			tensors[fmt.Sprintf("%sh.%d.attn.bias", o.Prefix, l)] = tensor{[]int{1, 1, p, p}, mask}
			tensors[fmt.Sprintf("%sh.%d.attn.masked_bias", o.Prefix, l)] = tensor{[]int{}, []float32{-1e4}}
		}
	}
	cfg := map[string]any{
		"activation_function": "gelu_new", "architectures": []string{"GPT2LMHeadModel"}, "model_type": "gpt2",
		"vocab_size": VocabSize, "n_embd": o.DModel, "n_layer": o.Layers, "n_head": o.Heads, "n_positions": o.Positions,
		"n_ctx": o.Positions, "n_inner": nil, "layer_norm_epsilon": 1e-5, "bos_token_id": EOS, "eos_token_id": EOS,
		"attn_pdrop": 0.1, "embd_pdrop": 0.1, "resid_pdrop": 0.1, "initializer_range": 0.02,
	}
	if o.Untied {
		cfg["tie_word_embeddings"] = false
	}
	for name, data := range map[string][]byte{"config.json": mustJSON(cfg), "model.safetensors": encode(tensors), "tokenizer.json": TokenizerJSON(false)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return nil, err
		}
	}
	return params, nil
}

type tensor struct {
	shape []int
	data  []float32
}

// encode writes F32 tensors in the safetensors layout: 8-byte header length, JSON header, data.
func encode(ts map[string]tensor) []byte {
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var data bytes.Buffer
	for _, name := range sortedKeys(ts) {
		t := ts[name]
		start := data.Len()
		for _, v := range t.data {
			binary.Write(&data, binary.LittleEndian, math.Float32bits(v))
		}
		header[name] = map[string]any{"dtype": "F32", "shape": t.shape, "data_offsets": []int{start, data.Len()}}
	}
	h := mustJSON(header)
	var out bytes.Buffer
	binary.Write(&out, binary.LittleEndian, uint64(len(h)))
	out.Write(h)
	out.Write(data.Bytes())
	return out.Bytes()
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
