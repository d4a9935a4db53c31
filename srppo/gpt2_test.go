package srppo

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/internal/tinygpt2"
)

// tinyGPT2 writes a tiny random GPT-2 checkpoint in Hugging Face's layout and returns its
// directory and parameters by Hugging Face name.
func tinyGPT2(t *testing.T, o tinygpt2.Options) (string, map[string][]float32) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "gpt2")
	params, err := tinygpt2.Write(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return dir, params
}

// TestGPT2LogitsMatchReference loads Hugging Face GPT-2 checkpoints in their layouts (hub files
// with attention-mask buffers; save_pretrained's "transformer." prefix; an untied head) and
// compares the logits with refForward, an independent plain-Go forward pass over the same weights.
func TestGPT2LogitsMatchReference(t *testing.T) {
	untied := tinygpt2.Default
	untied.Prefix, untied.Buffers, untied.Untied, untied.Seed = "transformer.", false, true, 2
	for name, o := range map[string]tinygpt2.Options{"hub layout": tinygpt2.Default, "prefixed untied": untied} {
		t.Run(name, func(t *testing.T) {
			dir, params := tinyGPT2(t, o)
			m, err := LoadPretrained("", dir, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := Config{VocabSize: tinygpt2.VocabSize, DModel: 32, Layers: 2, Heads: 4, DFF: 128, Context: 64, MaxPositions: 64,
				Positions: PositionsLearned, RoPEBase: 10000, TiedEmbeddings: !o.Untied, LayerNormEps: 1e-5}
			if m.Config != want {
				t.Fatalf("config %+v, want %+v", m.Config, want)
			}
			prompt, err := m.Tokenizer.EncodePrompt("hello world")
			if err != nil {
				t.Fatal(err)
			}
			tokens := append(prompt, 5, 200, 261, tinygpt2.EOS, 0)
			got, err := m.Logits(tokens)
			if err != nil {
				t.Fatal(err)
			}
			ref := refForward(want, params, tokens)
			var worst float64
			for i := range tokens {
				for v := range want.VocabSize {
					worst = math.Max(worst, math.Abs(float64(got[i][v])-ref[i][v]))
				}
			}
			if worst > 1e-4 {
				t.Errorf("logits differ from the reference forward by up to %.2e over %d tokens", worst, len(tokens))
			}
			t.Logf("%d tokens × %d logits: max |Δ| = %.2e", len(tokens), want.VocabSize, worst)
		})
	}
}

func TestGPT2SaveLoadRoundTrip(t *testing.T) {
	dir, _ := tinyGPT2(t, tinygpt2.Default)
	m, err := LoadPretrained("", dir, 16) // context capped: the position table keeps its 64 rows
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.Context != 16 || m.Config.MaxPositions != 64 {
		t.Fatalf("context %d, max positions %d; want 16 and 64", m.Config.Context, m.Config.MaxPositions)
	}
	out := filepath.Join(t.TempDir(), "saved")
	if err := SaveModel(out, m); err != nil {
		t.Fatal(err)
	}
	// A Hugging Face GPT-2 checkpoint: GPT-2's config fields, the tokenizer.json as read, and the
	// weights under GPT-2's names and shapes (no buffers, no lm_head when tied).
	var hc map[string]any
	raw, _ := os.ReadFile(filepath.Join(out, ConfigFile))
	if err := json.Unmarshal(raw, &hc); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"model_type": "gpt2", "activation_function": "gelu_new", "n_embd": 32.0, "n_layer": 2.0,
		"n_head": 4.0, "n_positions": 64.0, "vocab_size": float64(tinygpt2.VocabSize), "n_inner": nil,
		"tie_word_embeddings": true, "eos_token_id": float64(tinygpt2.EOS), "srppo_context": 16.0} {
		if !reflect.DeepEqual(hc[k], v) {
			t.Errorf("config.json %s = %v, want %v", k, hc[k], v)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(out, TokenizerFile)); string(got) != string(tinygpt2.TokenizerJSON(false)) {
		t.Error("tokenizer.json was not written back unchanged")
	}
	ts, meta, err := ReadSafetensors(filepath.Join(out, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	shapes := tinygpt2.Default.Shapes()
	if len(ts) != len(shapes) || meta["format"] != "pt" {
		t.Errorf("%d tensors (metadata %v), want %d with format pt", len(ts), meta, len(shapes))
	}
	for name, shape := range shapes {
		if !slices.Equal(ts[name].Shape, shape) {
			t.Errorf("tensor %s has shape %v, want %v", name, ts[name].Shape, shape)
		}
	}
	back, err := LoadModel(out, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if back.Config != m.Config || !back.Tokenizer.Equal(m.Tokenizer) {
		t.Errorf("reloaded config %+v (tokenizer equal %v), want %+v", back.Config, back.Tokenizer.Equal(m.Tokenizer), m.Config)
	}
	p1, _ := m.Params()
	p2, _ := back.Params()
	if !reflect.DeepEqual(p1, p2) {
		t.Error("weights changed through save and load")
	}
	if !IsGPT2Checkpoint(out) || IsGPT2Checkpoint(t.TempDir()) {
		t.Error("IsGPT2Checkpoint does not tell a GPT-2 checkpoint from an empty directory")
	}
}

// TestGPT2LoadErrors: a wrong shape, a missing or an unexpected tensor, and unsupported configs
// give errors naming the tensor or field.
func TestGPT2LoadErrors(t *testing.T) {
	dir, _ := tinyGPT2(t, tinygpt2.Default)
	weights := filepath.Join(dir, WeightsFile)
	orig, _, err := ReadSafetensors(weights)
	if err != nil {
		t.Fatal(err)
	}
	origCfg, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	for _, tc := range []struct {
		name   string
		tensor func(map[string]Tensor)
		config func(string) string
		want   string
	}{
		{name: "wrong shape", tensor: func(ts map[string]Tensor) {
			t := ts["h.1.mlp.c_fc.weight"]
			t.Shape = []int{128, 32}
			ts["h.1.mlp.c_fc.weight"] = t
		}, want: `tensor "h.1.mlp.c_fc.weight" has shape [128 32], the model needs [32 128]`},
		{name: "missing", tensor: func(ts map[string]Tensor) { delete(ts, "h.0.ln_2.bias") }, want: `tensor "h.0.ln_2.bias" missing`},
		{name: "unexpected", tensor: func(ts map[string]Tensor) { ts["h.0.attn.rotary"] = ts["h.0.ln_2.bias"] }, want: `unexpected tensor "h.0.attn.rotary"`},
		{name: "activation", config: func(s string) string { return strings.Replace(s, `"gelu_new"`, `"relu"`, 1) }, want: `activation_function "relu"`},
		{name: "model type", config: func(s string) string { return strings.Replace(s, `"gpt2"`, `"llama"`, 1) }, want: `model_type "llama"`},
		{name: "layer-scaled attention", config: func(s string) string {
			return strings.Replace(s, `"model_type"`, `"scale_attn_by_inverse_layer_idx":true,"model_type"`, 1)
		}, want: "scale_attn_by_inverse_layer_idx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := map[string]Tensor{}
			for k, v := range orig {
				ts[k] = v
			}
			cfg := string(origCfg)
			if tc.tensor != nil {
				tc.tensor(ts)
			}
			if tc.config != nil {
				if cfg = tc.config(cfg); cfg == string(origCfg) {
					t.Fatal("the config edit did not apply")
				}
			}
			data, err := EncodeSafetensors(ts, map[string]string{"format": "pt"})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(weights, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = LoadPretrained("", dir, 0)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := LoadPretrained("", t.TempDir(), 0); err == nil || !strings.Contains(err.Error(), "not a model directory") {
		t.Errorf("empty directory: %v", err)
	}
}

// TestGPT2VocabMergesFiles loads a checkpoint with GPT-2's original vocab.json + merges.txt in
// place of tokenizer.json.
func TestGPT2VocabMergesFiles(t *testing.T) {
	dir, _ := tinyGPT2(t, tinygpt2.Default)
	if err := os.Remove(filepath.Join(dir, TokenizerFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPretrained("", dir, 0); err == nil || !strings.Contains(err.Error(), "vocab.json + merges.txt") {
		t.Errorf("no tokenizer files: %v", err)
	}
	if err := tinygpt2.WriteVocabMerges(dir); err != nil {
		t.Fatal(err)
	}
	m, err := LoadPretrained("", dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := datasets.ParseBPE(tinygpt2.TokenizerJSON(false), "ref")
	if !m.Tokenizer.Equal(ref) {
		t.Error("vocab.json + merges.txt differ from the tokenizer.json tokenizer")
	}
}

// TestPretrainedFromHubCache resolves a hub name offline from a cache laid out as Python's
// huggingface_hub writes it, under $HF_HOME.
func TestPretrainedFromHubCache(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HF_HOME", home)
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("HF_HUB_OFFLINE", "1")
	if got, want := HFCacheDir(), filepath.Join(home, "hub"); got != want {
		t.Errorf("HFCacheDir() = %s, want %s", got, want)
	}
	repo := filepath.Join(home, "hub", "models--tiny--gpt2")
	if _, err := tinygpt2.Write(filepath.Join(repo, "snapshots", "0123abc"), tinygpt2.Default); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(repo, "refs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "refs", "main"), []byte("0123abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := LoadPretrained("tiny/gpt2", "", 32)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.Context != 32 || m.Config.Layers != 2 {
		t.Errorf("config %+v", m.Config)
	}
	if _, err := LoadPretrained("distilgpt2", "", 0); err == nil || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") {
		t.Errorf("uncached model offline: %v", err)
	}
	if _, err := LoadPretrained("tiny/gpt2", "", 100); err == nil || !strings.Contains(err.Error(), "exceeds its n_positions 64") {
		t.Errorf("context beyond n_positions: %v", err)
	}
	t.Setenv("HF_HUB_CACHE", "/elsewhere")
	if HFCacheDir() != "/elsewhere" {
		t.Errorf("HF_HUB_CACHE is not preferred: %s", HFCacheDir())
	}
}

// hubStandIn serves repo (at commit, listing files) from the directory src as the Hugging Face
// hub does, points $HF_ENDPOINT at it with the cache under a fresh $HF_HOME (returned) and $HF_TOKEN
// set to token, and records the Authorization header of every request.
type hubStandIn struct {
	*httptest.Server
	home string
	mu   sync.Mutex
	auth []string
}

func newHubStandIn(t *testing.T, repo, commit, src string, files []string, token string) *hubStandIn {
	t.Helper()
	var siblings []map[string]string
	for _, f := range files {
		siblings = append(siblings, map[string]string{"rfilename": f})
	}
	h := &hubStandIn{home: t.TempDir()}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.auth = append(h.auth, r.Header.Get("Authorization"))
		h.mu.Unlock()
		switch {
		case r.URL.Path == "/api/models/"+repo+"/revision/main":
			json.NewEncoder(w).Encode(map[string]any{"sha": commit, "siblings": siblings})
		case strings.HasPrefix(r.URL.Path, "/"+repo+"/resolve/"+commit+"/"):
			data, err := os.ReadFile(filepath.Join(src, path.Base(r.URL.Path)))
			if err != nil {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("ETag", strconv.Quote("etag-"+path.Base(r.URL.Path)))
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			if r.Method == http.MethodGet {
				w.Write(data)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(h.Close)
	t.Setenv("HF_ENDPOINT", h.URL)
	t.Setenv("HF_HOME", h.home)
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	t.Setenv("HF_TOKEN", token)
	return h
}

// TestDownloadPretrained downloads a checkpoint from a local stand-in for the Hugging Face hub
// ($HF_ENDPOINT) into the cache under $HF_HOME, sending $HF_TOKEN, then finds it there offline.
func TestDownloadPretrained(t *testing.T) {
	src, _ := tinyGPT2(t, tinygpt2.Default)
	hub := newHubStandIn(t, "tiny/gpt2", "c0ffee", src, []string{ConfigFile, WeightsFile, TokenizerFile, "README.md"}, "secret")
	m, err := LoadPretrained("tiny/gpt2", "", 32)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.Layers != 2 || m.Config.Context != 32 {
		t.Errorf("config %+v", m.Config)
	}
	snapshot := filepath.Join(hub.home, "hub", "models--tiny--gpt2", "snapshots", "c0ffee")
	for _, f := range []string{ConfigFile, WeightsFile, TokenizerFile} {
		if _, err := os.Stat(filepath.Join(snapshot, f)); err != nil {
			t.Errorf("not in the cache: %v", err)
		}
	}
	for _, a := range hub.auth {
		if a != "Bearer secret" {
			t.Errorf("request with Authorization %q, want the HF_TOKEN", a)
		}
	}
	t.Setenv("HF_HUB_OFFLINE", "1")
	hub.Close()
	if _, err := LoadPretrained("tiny/gpt2", "", 32); err != nil {
		t.Errorf("offline from the cache: %v", err)
	}
}

// freeTextDemos are chat demonstrations in free text for the tiny GPT-2.
var freeTextDemos = []datasets.Demo{
	{Prompt: "Say hello.", Response: "hello world"},
	{Prompt: "Greet the world!", Response: "hello, world"},
	{Prompt: "What's next after he?", Response: "hel"},
	{Prompt: "Write 'or'.", Response: "or or"},
}

// TestGPT2SFTAndPPO fine-tunes the tiny GPT-2 on free-text demonstrations, saves it, and runs one
// SRPPO iteration and an evaluation through the same calls as the command line.
func TestGPT2SFTAndPPO(t *testing.T) {
	dir, _ := tinyGPT2(t, tinygpt2.Default)
	pt, err := LoadPretrained("", dir, 48)
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
	if got := sft.Tokenizer.Decode(train[0].Tokens[train[0].LossFrom+1:]); got != " hello world<|endoftext|>" {
		t.Errorf("loss covers %q, want the response and <|endoftext|>", got)
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
	sft, err = LoadModel(sftDir, &pt.Config, pt.Tokenizer)
	if err != nil {
		t.Fatal(err)
	}
	var pool []PromptSource
	var items []datasets.EvalItem
	for _, d := range freeTextDemos {
		pool = append(pool, PromptSource{Prompt: d.Prompt, Split: "id", Answer: d.Response})
		items = append(items, datasets.EvalItem{Prompt: d.Prompt, Answer: d.Response, Split: "id"})
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
	for _, row := range r.Rows { // one word (piece of text) per token, for token-level displays
		if len(row.Words) != len(row.Tokens) || row.Text != sft.Tokenizer.Decode(row.Tokens) {
			t.Errorf("row words %q, text %q for tokens %v", row.Words, row.Text, row.Tokens)
		}
	}
	if !IsGPT2Checkpoint(runDir) {
		t.Error("the PPO policy was not written as a GPT-2 checkpoint")
	}
	// The step-by-step API (what the notebooks call, one stage per cell, state on disk).
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
	for _, row := range r.Rows { // Σ_t Δ_t is the coherent reward log π_sft(y|x) − log π_pt(y|x)
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
	rep, err := Evaluate(policy, items, EvalConfig{Format: FormatChat, MaxNew: 6, BatchRows: 4})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Overall.N != len(items) {
		t.Errorf("evaluated %d items, want %d", rep.Overall.N, len(items))
	}
	if _, err := Evaluate(policy, items, EvalConfig{Format: FormatDoc, MaxNew: 6, BatchRows: 4}); err == nil {
		t.Error("the world's document format was accepted for a GPT-2 model")
	}
}
