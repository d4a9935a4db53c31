package srppo

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/internal/tinyllama"
)

// refLlamaForward is an independent float64 forward pass of a Llama-family model written from
// transformers' modeling_llama/qwen2/qwen3 (RMSNorm, RoPE with rotate_half and llama3 scaling,
// repeat_kv, SwiGLU), over weights by Hugging Face name. It returns logits [T][V].
func refLlamaForward(o tinyllama.Options, p map[string][]float32, tokens []int32) [][]float64 {
	d, dh, h, kvh, f := o.DModel, o.DModel/o.Heads, o.Heads, o.KVHeads, o.DFF
	if o.HeadDim > 0 {
		dh = o.HeadDim
	}
	vocab := tinyllama.VocabSize(o.Family)
	T := len(tokens)
	get := func(name string) []float32 {
		v, ok := p[name]
		if !ok {
			panic("missing " + name)
		}
		return v
	}
	rms := func(x []float64, w []float32) []float64 {
		var ms float64
		for _, v := range x {
			ms += v * v
		}
		ms /= float64(len(x))
		out := make([]float64, len(x))
		for i, v := range x {
			out[i] = v / math.Sqrt(ms+1e-6) * float64(w[i])
		}
		return out
	}
	lin := func(x []float64, w []float32, b []float32, out int) []float64 {
		in := len(x)
		y := make([]float64, out)
		for o := range out {
			var s float64
			for i := range in {
				s += float64(w[o*in+i]) * x[i]
			}
			if b != nil {
				s += float64(b[o])
			}
			y[o] = s
		}
		return y
	}
	// inverse frequencies (transformers' default and llama3 rope init)
	inv := make([]float64, dh/2)
	for i := range inv {
		inv[i] = 1 / math.Pow(o.RopeTheta, float64(2*i)/float64(dh))
		if o.Llama3Scaling {
			factor, low, high, orig := 8.0, 1.0, 4.0, 16.0
			wl := 2 * math.Pi / inv[i]
			if wl > orig/low {
				inv[i] /= factor
			} else if wl >= orig/high {
				s := (orig/wl - low) / (high - low)
				inv[i] = (1-s)*inv[i]/factor + s*inv[i]
			}
		}
	}
	rope := func(x []float64, pos int) { // x is one head [dh], rotate_half convention
		half := dh / 2
		out := make([]float64, dh)
		for i := range half {
			c, s := math.Cos(float64(pos)*inv[i]), math.Sin(float64(pos)*inv[i])
			out[i] = x[i]*c - x[i+half]*s
			out[i+half] = x[i+half]*c + x[i]*s
		}
		copy(x, out)
	}
	x := make([][]float64, T)
	emb := get("model.embed_tokens.weight")
	for t, tok := range tokens {
		x[t] = make([]float64, d)
		for i := range d {
			x[t][i] = float64(emb[int(tok)*d+i])
		}
	}
	for l := range o.Layers {
		pre := fmt.Sprintf("model.layers.%d.", l)
		bias := func(n string) []float32 {
			if o.Family == "qwen2" {
				return get(pre + "self_attn." + n + "_proj.bias")
			}
			return nil
		}
		qs, ks, vs := make([][]float64, T), make([][]float64, T), make([][]float64, T)
		for t := range T {
			hn := rms(x[t], get(pre+"input_layernorm.weight"))
			qs[t] = lin(hn, get(pre+"self_attn.q_proj.weight"), bias("q"), h*dh)
			ks[t] = lin(hn, get(pre+"self_attn.k_proj.weight"), bias("k"), kvh*dh)
			vs[t] = lin(hn, get(pre+"self_attn.v_proj.weight"), bias("v"), kvh*dh)
			for hh := range h {
				head := qs[t][hh*dh : (hh+1)*dh]
				if o.Family == "qwen3" {
					copy(head, rms(head, get(pre+"self_attn.q_norm.weight")))
				}
				rope(head, t)
			}
			for hh := range kvh {
				head := ks[t][hh*dh : (hh+1)*dh]
				if o.Family == "qwen3" {
					copy(head, rms(head, get(pre+"self_attn.k_norm.weight")))
				}
				rope(head, t)
			}
		}
		for t := range T {
			ctx := make([]float64, h*dh)
			for hh := range h {
				kh := hh / (h / kvh)
				scores := make([]float64, t+1)
				mx := math.Inf(-1)
				for u := 0; u <= t; u++ {
					var s float64
					for i := range dh {
						s += qs[t][hh*dh+i] * ks[u][kh*dh+i]
					}
					scores[u] = s / math.Sqrt(float64(dh))
					mx = math.Max(mx, scores[u])
				}
				var z float64
				for u := range scores {
					scores[u] = math.Exp(scores[u] - mx)
					z += scores[u]
				}
				for u := range scores {
					for i := range dh {
						ctx[hh*dh+i] += scores[u] / z * vs[u][kh*dh+i]
					}
				}
			}
			out := lin(ctx, get(pre+"self_attn.o_proj.weight"), nil, d)
			for i := range d {
				x[t][i] += out[i]
			}
			hn := rms(x[t], get(pre+"post_attention_layernorm.weight"))
			gate := lin(hn, get(pre+"mlp.gate_proj.weight"), nil, f)
			up := lin(hn, get(pre+"mlp.up_proj.weight"), nil, f)
			for i := range f {
				gate[i] = gate[i] / (1 + math.Exp(-gate[i])) * up[i]
			}
			down := lin(gate, get(pre+"mlp.down_proj.weight"), nil, d)
			for i := range d {
				x[t][i] += down[i]
			}
		}
	}
	head := "lm_head.weight"
	if o.Tied {
		head = "model.embed_tokens.weight"
	}
	logits := make([][]float64, T)
	for t := range T {
		logits[t] = lin(rms(x[t], get("model.norm.weight")), get(head), nil, vocab)
	}
	return logits
}

// tinyLlamaVariants are the tiny checkpoints of the tests: every family, GQA everywhere (Mistral
// with one kv head), Llama 3's RoPE scaling and θ 5e5, Qwen2's biases, Qwen3's head_dim ≠ d/heads
// and QK-norm, bf16/f16 storage, shards, tied and untied heads.
func tinyLlamaVariants() map[string]tinyllama.Options {
	v := map[string]tinyllama.Options{}
	for _, fam := range []string{"llama", "qwen2", "qwen3", "mistral"} {
		v[fam] = tinyllama.Defaults(fam)
	}
	o := tinyllama.Defaults("qwen3")
	o.Shards, o.DType, o.Seed, o.HeadExtra = 3, "BF16", 2, true
	v["qwen3 bf16 sharded, lm_head copy"] = o
	o = tinyllama.Defaults("llama")
	o.DType, o.Tied, o.Llama3Scaling, o.RopeTheta, o.InvFreqBuffers, o.Seed = "F16", true, false, 10000, true, 3
	v["llama f16 tied θ 1e4, inv_freq buffers"] = o
	return v
}

func writeTinyLlama(t *testing.T, o tinyllama.Options) (string, map[string][]float32) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), o.Family)
	params, err := tinyllama.Write(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return dir, params
}

// TestLlamaLogitsMatchReference loads tiny checkpoints of each family and compares their logits
// with refLlamaForward within 1e-4.
func TestLlamaLogitsMatchReference(t *testing.T) {
	for name, o := range tinyLlamaVariants() {
		t.Run(name, func(t *testing.T) {
			dir, params := writeTinyLlama(t, o)
			m, err := LoadPretrained("", dir, 0)
			if err != nil {
				t.Fatal(err)
			}
			c := m.Config
			if c.Family != o.Family || c.KVHeadCount() != o.KVHeads || c.QKNorm != (o.Family == "qwen3") ||
				c.QKVBias != (o.Family == "qwen2") || c.TiedEmbeddings != o.Tied || c.RoPEBase != o.RopeTheta ||
				(c.RoPEScaling.Type == "llama3") != o.Llama3Scaling || c.Context != o.Positions {
				t.Fatalf("config %+v does not reflect %+v", c, o)
			}
			prompt, err := m.Tokenizer.EncodePrompt("hello world")
			if err != nil {
				t.Fatal(err)
			}
			tokens := append(prompt, 5, 200, 261, m.Tokenizer.EOS(), 0, 7, 7, 100)
			got, err := m.Logits(tokens)
			if err != nil {
				t.Fatal(err)
			}
			ref := refLlamaForward(o, params, tokens)
			var worst, scale float64
			for i := range tokens {
				for v := range ref[i] {
					worst = math.Max(worst, math.Abs(float64(got[i][v])-ref[i][v]))
					scale = math.Max(scale, math.Abs(ref[i][v]))
				}
			}
			if worst > 1e-4 {
				t.Errorf("logits differ from the reference forward by up to %.2e (logits up to %.1f) over %d tokens", worst, scale, len(tokens))
			}
			t.Logf("%d tokens × %d logits (|logit| ≤ %.1f): max |Δ| = %.2e", len(tokens), len(ref[0]), scale, worst)
		})
	}
}

// TestLlamaSaveLoadRoundTrip saves a loaded checkpoint and checks it is a Hugging Face checkpoint
// of the same family (config fields, tensor names and shapes, tokenizer files) that loads back
// with the same config, tokenizer and weights.
func TestLlamaSaveLoadRoundTrip(t *testing.T) {
	for name, o := range tinyLlamaVariants() {
		t.Run(name, func(t *testing.T) {
			dir, _ := writeTinyLlama(t, o)
			m, err := LoadPretrained("", dir, 24)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "saved")
			if err := SaveModel(out, m); err != nil {
				t.Fatal(err)
			}
			var hc map[string]any
			raw, _ := os.ReadFile(filepath.Join(out, ConfigFile))
			if err := json.Unmarshal(raw, &hc); err != nil {
				t.Fatal(err)
			}
			src := o.Config()
			for _, k := range []string{"model_type", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
				"num_key_value_heads", "max_position_embeddings", "rope_theta", "tie_word_embeddings", "vocab_size", "hidden_act"} {
				if fmt.Sprint(hc[k]) != fmt.Sprint(src[k]) {
					t.Errorf("config.json %s = %v, the source has %v", k, hc[k], src[k])
				}
			}
			if hc["srppo_context"] != 24.0 || hc["architectures"].([]any)[0] != src["architectures"].([]string)[0] {
				t.Errorf("srppo_context %v, architectures %v", hc["srppo_context"], hc["architectures"])
			}
			if o.Llama3Scaling {
				rs, _ := hc["rope_scaling"].(map[string]any)
				if rs["rope_type"] != "llama3" || rs["factor"] != 8.0 || rs["original_max_position_embeddings"] != 16.0 {
					t.Errorf("rope_scaling %v", hc["rope_scaling"])
				}
			}
			for _, f := range []string{TokenizerFile, TokenizerConfigFile} {
				got, _ := os.ReadFile(filepath.Join(out, f))
				want, _ := os.ReadFile(filepath.Join(dir, f))
				if string(got) != string(want) {
					t.Errorf("%s was not written back unchanged", f)
				}
			}
			ts, _, err := ReadSafetensors(filepath.Join(out, WeightsFile))
			if err != nil {
				t.Fatal(err)
			}
			shapes := o.Shapes()
			if len(ts) != len(shapes) {
				t.Errorf("%d tensors, want %d", len(ts), len(shapes))
			}
			for n, s := range shapes {
				if !reflect.DeepEqual(ts[n].Shape, s) {
					t.Errorf("tensor %s has shape %v, want %v", n, ts[n].Shape, s)
				}
			}
			back, err := LoadModel(out, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if back.Config != m.Config || !back.Tokenizer.Equal(m.Tokenizer) {
				t.Errorf("reloaded config %+v, want %+v (tokenizer equal %v)", back.Config, m.Config, back.Tokenizer.Equal(m.Tokenizer))
			}
			p1, _ := m.Params()
			p2, _ := back.Params()
			if !reflect.DeepEqual(p1, p2) {
				t.Error("weights changed through save and load")
			}
		})
	}
}

// TestLlamaLoadErrors: unsupported configuration fields and broken shards are errors naming the
// field, tensor or file.
func TestLlamaLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*tinyllama.Options)
		ctx   int
		after func(dir string)
		want  string
	}{
		{name: "rope scaling type", edit: func(o *tinyllama.Options) {
			o.ExtraConfig = map[string]any{"rope_scaling": map[string]any{"rope_type": "yarn", "factor": 4.0}}
		}, want: `rope_scaling type "yarn" is not implemented`},
		{name: "old rope scaling key", edit: func(o *tinyllama.Options) {
			o.ExtraConfig = map[string]any{"rope_scaling": map[string]any{"type": "linear", "factor": 2.0}}
		}, want: `rope_scaling type "linear"`},
		{name: "activation", edit: func(o *tinyllama.Options) { o.ExtraConfig = map[string]any{"hidden_act": "gelu"} }, want: `hidden_act "gelu"`},
		{name: "llama attention bias", edit: func(o *tinyllama.Options) { o.ExtraConfig = map[string]any{"attention_bias": true} }, want: "attention_bias true"},
		{name: "mlp bias", edit: func(o *tinyllama.Options) { o.ExtraConfig = map[string]any{"mlp_bias": true} }, want: "mlp_bias true"},
		{name: "moe", edit: func(o *tinyllama.Options) { o.ExtraConfig = map[string]any{"num_experts": 8} }, want: "num_experts 8: mixture-of-experts"},
		{name: "qwen sliding window", edit: func(o *tinyllama.Options) {
			*o = tinyllama.Defaults("qwen2")
			o.ExtraConfig = map[string]any{"use_sliding_window": true}
		}, want: "use_sliding_window true"},
		{name: "mistral sliding window shorter than context", edit: func(o *tinyllama.Options) {
			*o = tinyllama.Defaults("mistral")
			o.SlidingWindow = 16
		}, ctx: 32, want: "exceeds sliding_window 16"},
		{name: "context beyond max positions", ctx: 100, want: "exceeds max_position_embeddings 64"},
		{name: "other architecture", edit: func(o *tinyllama.Options) { o.ExtraConfig = map[string]any{"model_type": "gemma"} },
			want: `model_type "gemma" is not supported (supported: gpt2, llama, mistral, qwen2, qwen3)`},
		{name: "partial rotary", edit: func(o *tinyllama.Options) { o.ExtraConfig = map[string]any{"partial_rotary_factor": 0.5} },
			want: "partial_rotary_factor 0.5: only full rotary embeddings are supported"},
		{name: "sentencepiece tokenizer", after: func(dir string) {
			os.WriteFile(filepath.Join(dir, TokenizerFile), []byte(`{"model":{"type":"BPE","vocab":{"a":0},"merges":[],"byte_fallback":true},"pre_tokenizer":{"type":"Metaspace","replacement":"▁"},"decoder":{"type":"Sequence"}}`), 0o644)
		}, want: `pre_tokenizer: type "Metaspace"`},
		{name: "missing shard tensor", edit: func(o *tinyllama.Options) { o.Shards = 2 }, after: func(dir string) {
			idx := filepath.Join(dir, WeightsIndexFile)
			raw, _ := os.ReadFile(idx)
			os.WriteFile(idx, []byte(strings.Replace(string(raw), `"model.norm.weight":"model-00001-of-00002.safetensors"`, `"model.norm.weight":"model-00002-of-00002.safetensors"`, 1)), 0o644)
		}, want: `tensor "model.norm.weight" is not listed for this shard`},
		{name: "no weights", after: func(dir string) { os.Remove(filepath.Join(dir, WeightsFile)) }, want: "neither it nor model.safetensors.index.json exists"},
		{name: "qwen3 without q_norm", edit: func(o *tinyllama.Options) { *o = tinyllama.Defaults("qwen3") }, after: func(dir string) {
			ts, _, _ := ReadSafetensors(filepath.Join(dir, WeightsFile))
			delete(ts, "model.layers.1.self_attn.q_norm.weight")
			data, _ := EncodeSafetensors(ts, nil)
			os.WriteFile(filepath.Join(dir, WeightsFile), data, 0o644)
		}, want: `tensor "model.layers.1.self_attn.q_norm.weight" missing`},
		{name: "chat template", after: func(dir string) {
			os.WriteFile(filepath.Join(dir, TokenizerConfigFile), []byte(`{"chat_template": "{{ messages }}"}`), 0o644)
		}, want: "chat_template: only Llama 3's header-token template and ChatML are supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tinyllama.Defaults("llama")
			if tc.edit != nil {
				tc.edit(&o)
			}
			dir, _ := writeTinyLlama(t, o)
			if tc.after != nil {
				tc.after(dir)
			}
			_, err := LoadPretrained("", dir, tc.ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// llamaTestConfig is a Llama-family config with every option on: GQA (4 heads over 2 kv heads),
// head_dim 6 ≠ 24/4, QK-norm, q/k/v biases, Llama 3 RoPE scaling, an untied head.
func llamaTestConfig() Config {
	return Config{Family: FamilyQwen3, VocabSize: 13, DModel: 24, Layers: 2, Heads: 4, KVHeads: 2, HeadDimension: 6, DFF: 40,
		Context: 14, MaxPositions: 64, Positions: PositionsRoPE, RoPEBase: 5000, LayerNormEps: 1e-6, QKNorm: true, QKVBias: true,
		RoPEScaling: RoPEScaling{Type: "llama3", Factor: 4, LowFreqFactor: 1, HighFreqFactor: 4, OriginalContext: 8}}
}

// TestLlamaCachedDecodingMatchesFullForward walks the KV cache (kv_heads wide) step by step and
// compares every distribution with the full forward pass, as TestCachedDecodingMatchesFullForward
// does for the GPT-2 graph; then sampled log-probs must equal teacher-forced ones.
func TestLlamaCachedDecodingMatchesFullForward(t *testing.T) {
	m := randomizedLM(t, llamaTestConfig(), 5)
	s, err := NewSampler(m)
	if err != nil {
		t.Fatal(err)
	}
	prompts := [][]int32{{1, 3, 5, 6, 4}, {1, 3, 7, 4}, {1, 3, 8, 9, 10, 4}}
	const b, width = 3, 7
	pad := make([]int, b)
	rows := make([][]int32, b)
	seqs := make([][]int32, b)
	for r := range b {
		rows[r] = make([]int32, width)
		pad[r] = width - len(prompts[r])
		copy(rows[r][pad[r]:], prompts[r])
		seqs[r] = slices.Clone(prompts[r])
	}
	logp, caches, err := s.step(rows, pad, 0, s.emptyCaches(b))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	var worst float64
	for step := range 5 {
		full := fullLogSoftmax(t, m, seqs)
		next := make([][]int32, b)
		for r := range b {
			want := full[r][len(seqs[r])-1]
			for v := range want {
				worst = math.Max(worst, math.Abs(float64(logp[r][v]-want[v])))
			}
			tok := int32(rng.IntN(m.Config.VocabSize))
			next[r] = []int32{tok}
			seqs[r] = append(seqs[r], tok)
		}
		if logp, caches, err = s.step(next, pad, width+step, caches); err != nil {
			t.Fatal(err)
		}
	}
	if worst > 1e-5 {
		t.Errorf("cached decoding differs from the full forward pass by up to %.2e", worst)
	}
	out, err := s.Sample(prompts, SampleConfig{MaxNew: 5, Temperature: 1, StopToken: 2, BatchRows: 4}, rand.New(rand.NewPCG(3, 3)))
	if err != nil {
		t.Fatal(err)
	}
	var pairs []Sequence
	for i, p := range prompts {
		pairs = append(pairs, PairSequence(p, out.Tokens[i]))
	}
	tf, err := m.ResponseLogProbs(pairs, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i := range prompts {
		for j := range out.Tokens[i] {
			if d := math.Abs(float64(out.LogProbs[i][j] - tf[i][j])); d > 1e-5 {
				t.Errorf("row %d token %d: sampling log-prob %v, teacher-forced %v", i, j, out.LogProbs[i][j], tf[i][j])
			}
		}
	}
}

// TestLlamaSFTAndPPO fine-tunes tiny Llama- and Qwen-shaped models on chat demonstrations, saves
// and reloads them, runs one SRPPO iteration (policy + critic on the GQA/RoPE trunk) and the four
// step-by-step stages, checking Σ_t Δ_t = log π_sft − log π_pt per row, and evaluates the policy.
func TestLlamaSFTAndPPO(t *testing.T) {
	for _, fam := range []string{"llama", "qwen3"} {
		t.Run(fam, func(t *testing.T) {
			dir, _ := writeTinyLlama(t, tinyllama.Defaults(fam))
			pt, err := LoadPretrained("", dir, 60)
			if err != nil {
				t.Fatal(err)
			}
			sft, err := pt.Clone()
			if err != nil {
				t.Fatal(err)
			}
			train, err := EncodeDemos(sft.Tokenizer, freeTextDemos)
			if err != nil {
				t.Fatal(err)
			}
			wantEnd := map[string]string{"llama": "hello world<|eot_id|>", "qwen3": "hello world<|im_end|>"}[fam]
			if got := sft.Tokenizer.Decode(train[0].Tokens[train[0].LossFrom+1:]); got != wantEnd {
				t.Errorf("loss covers %q, want %q", got, wantEnd)
			}
			cfg := DefaultFineTuneConfig()
			cfg.BatchRows, cfg.Epochs, cfg.MinSteps, cfg.Optim.LR = 2, 2, 0, 1e-3
			res, err := Train(sft, train, train[:1], cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Steps < 2 || math.IsNaN(res.Curve[len(res.Curve)-1].TrainLoss) {
				t.Fatalf("SFT: %d steps, curve %+v", res.Steps, res.Curve)
			}
			sftDir := filepath.Join(t.TempDir(), "sft")
			if err := SaveSFT(sftDir, sft, res); err != nil {
				t.Fatal(err)
			}
			if sft, err = LoadModel(sftDir, &pt.Config, pt.Tokenizer); err != nil {
				t.Fatal(err)
			}
			var pool []PromptSource
			for _, d := range freeTextDemos {
				pool = append(pool, PromptSource{Prompt: d.Prompt, Split: "id", Answer: d.Response})
			}
			pc := DefaultPPOConfig(PlaceEOS)
			pc.Prompts, pc.Samples, pc.MaxNew, pc.Minibatch, pc.ScoreBatch = 2, 2, 6, 4, 4
			runDir := filepath.Join(t.TempDir(), "ppo")
			run, err := NewPPORun(runDir, pc, 1, sft, pt, pool)
			if err != nil {
				t.Fatal(err)
			}
			m, r, err := run.Iterate()
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Sanity) > 0 || math.IsNaN(m.Reward) || len(r.Rows) != 4 {
				t.Fatalf("iteration: sanity %v, reward %v, %d rows", m.Sanity, m.Reward, len(r.Rows))
			}
			steps, err := OpenPPOSteps(filepath.Join(t.TempDir(), "steps"), pc, 2, sft, pt, pool)
			if err != nil {
				t.Fatal(err)
			}
			steps.Log = io.Discard
			if r, err = steps.Rollout(); err != nil || r.Stage != StageRollout {
				t.Fatalf("rollout stage: %v", err)
			}
			if r, err = steps.Score(); err != nil || r.Stage != StageScored {
				t.Fatalf("score stage: %v", err)
			}
			for _, row := range r.Rows {
				var sum, sft, pt float64
				for t := range row.Tokens {
					sum += float64(row.Delta[t])
					sft += float64(row.LogpSFT[t])
					pt += float64(row.LogpPT[t])
				}
				if math.Abs(sum-(sft-pt)) > 1e-4 || math.Abs(row.Coherent-sum) > 1e-4 {
					t.Errorf("row: ΣΔ %.5f, log π_sft − log π_pt %.5f, coherent %.5f", sum, sft-pt, row.Coherent)
				}
			}
			if r, err = steps.Advantages(); err != nil || r.Stage != StageAdvantages {
				t.Fatalf("advantages stage: %v", err)
			}
			if m, _, err = steps.Update(); err != nil || len(m.Sanity) > 0 || steps.Iteration() != 1 {
				t.Fatalf("update stage: %v (sanity %v, iteration %d)", err, m, steps.Iteration())
			}
			policy, err := LoadPretrained("", runDir, 0)
			if err != nil {
				t.Fatal(err)
			}
			if policy.Config.Family != fam || policy.Config.Context != 60 {
				t.Errorf("the PPO policy reloads as %+v", policy.Config)
			}
			var items []datasets.EvalItem
			for _, d := range freeTextDemos {
				items = append(items, datasets.EvalItem{Prompt: d.Prompt, Answer: d.Response, Split: "id"})
			}
			rep, err := Evaluate(policy, items, EvalConfig{Format: FormatChat, MaxNew: 6, BatchRows: 4})
			if err != nil || rep.Overall.N != len(items) {
				t.Errorf("evaluation: %v", err)
			}
		})
	}
}

// TestDownloadShardedLlama downloads a sharded Qwen3 checkpoint with its tokenizer_config.json
// from a local stand-in for the hub and loads it from the cache offline.
func TestDownloadShardedLlama(t *testing.T) {
	o := tinyllama.Defaults("qwen3")
	o.Shards = 2
	src, _ := writeTinyLlama(t, o)
	entries, _ := os.ReadDir(src)
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	hub := newHubStandIn(t, "tiny/qwen3", "5ha4d", src, files, "")
	m, err := LoadPretrained("tiny/qwen3", "", 32)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.Family != FamilyQwen3 || m.Config.Context != 32 {
		t.Errorf("config %+v", m.Config)
	}
	hub.Close()
	t.Setenv("HF_HUB_OFFLINE", "1")
	if _, err := LoadPretrained("tiny/qwen3", "", 32); err != nil {
		t.Errorf("offline from the cache: %v", err)
	}
}

// TestBFloat16Storage: a model stored in bfloat16 gives exactly the logits of the float32 model
// with its weights rounded to bfloat16, returns those rounded weights, refuses training, and runs
// a PPO iteration as the frozen π_sft and π_pt without sanity failures (the policy starts at the
// same values, so the first ratio is 1 and the first KL 0).
func TestBFloat16Storage(t *testing.T) {
	dir, _ := writeTinyLlama(t, tinyllama.Defaults("qwen3"))
	f32, err := LoadPretrained("", dir, 64) // room for the longest pool prompt (45 tokens with the Qwen3 template) and 5 new tokens
	if err != nil {
		t.Fatal(err)
	}
	half, err := f32.Clone()
	if err != nil {
		t.Fatal(err)
	}
	tokens, _ := half.Tokenizer.EncodePrompt("hello world")
	if _, err := half.Logits(tokens); err != nil { // compile the float32 graph first
		t.Fatal(err)
	}
	if err := half.StoreBFloat16(); err != nil {
		t.Fatal(err)
	}
	rounded, _ := f32.Params()
	changed := 0
	for _, v := range rounded {
		for i, x := range v {
			r := math.Float32frombits((math.Float32bits(x) + 0x7fff + (math.Float32bits(x)>>16)&1) &^ 0xffff)
			if r != x {
				changed++
			}
			v[i] = r
		}
	}
	if changed == 0 {
		t.Fatal("the weights were bf16 values already: the test would not see a rounding")
	}
	got, _ := half.Params()
	if !reflect.DeepEqual(got, rounded) {
		t.Error("bf16 parameters are not the round-to-nearest-even values")
	}
	ref, _ := f32.Clone()
	if err := ref.SetParams(rounded); err != nil {
		t.Fatal(err)
	}
	a, err := half.Logits(tokens)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ref.Logits(tokens)
	if !reflect.DeepEqual(a, b) {
		t.Error("bf16-stored logits differ from the float32 model with rounded weights")
	}
	if _, err := Train(half, []Sequence{{Tokens: tokens}}, nil, DefaultFineTuneConfig(), nil); err == nil || !strings.Contains(err.Error(), "bfloat16") {
		t.Errorf("training a bf16 model: %v", err)
	}
	pt, _ := f32.Clone()
	if err := pt.StoreBFloat16(); err != nil {
		t.Fatal(err)
	}
	var pool []PromptSource
	for _, d := range freeTextDemos {
		pool = append(pool, PromptSource{Prompt: d.Prompt, Split: "id"})
	}
	pc := DefaultPPOConfig(PlaceEOS)
	pc.Prompts, pc.Samples, pc.MaxNew, pc.Minibatch, pc.ScoreBatch = 2, 2, 5, 4, 4
	run, err := NewPPORun(filepath.Join(t.TempDir(), "ppo"), pc, 1, half, pt, pool)
	if err != nil {
		t.Fatal(err)
	}
	if run.Models.Policy.BFloat16() || run.Models.Critic.LM.BFloat16() {
		t.Error("the trained policy or critic is stored in bf16")
	}
	m, _, err := run.Iterate()
	if err != nil || len(m.Sanity) > 0 {
		t.Errorf("PPO with bf16 references: %v, sanity %v", err, m.Sanity)
	}
}
