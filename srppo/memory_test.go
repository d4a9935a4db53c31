package srppo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/internal/tinyllama"
)

// Config.json of two hub models (the fields that shape them).
const (
	qwen25HalfBConfig = `{"architectures":["Qwen2ForCausalLM"],"model_type":"qwen2","hidden_size":896,"intermediate_size":4864,
		"num_hidden_layers":24,"num_attention_heads":14,"num_key_value_heads":2,"max_position_embeddings":32768,"rms_norm_eps":1e-06,
		"rope_theta":1000000.0,"rope_scaling":null,"sliding_window":32768,"use_sliding_window":false,"max_window_layers":21,
		"tie_word_embeddings":true,"torch_dtype":"bfloat16","vocab_size":151936,"hidden_act":"silu","bos_token_id":151643,"eos_token_id":151645}`
	smolLM2Config = `{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":576,"intermediate_size":1536,
		"num_hidden_layers":30,"num_attention_heads":9,"num_key_value_heads":3,"max_position_embeddings":8192,"rms_norm_eps":1e-05,
		"rope_theta":100000,"rope_scaling":null,"tie_word_embeddings":true,"torch_dtype":"bfloat16","vocab_size":49152,
		"hidden_act":"silu","attention_bias":false,"mlp_bias":false,"pretraining_tp":1,"bos_token_id":1,"eos_token_id":2}`
)

// TestMemoryEstimate checks the parameter counts of Qwen2.5-0.5B and SmolLM2-135M against the
// published ones (494,032,768 and 134,515,008), the byte accounting of each job, and logs the
// figures of the README for a context of 256 tokens.
func TestMemoryEstimate(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		params       int64
	}{{"Qwen2.5-0.5B", qwen25HalfBConfig, 494032768}, {"SmolLM2-135M", smolLM2Config, 134515008}} {
		cfg, err := parseLlamaConfig([]byte(tc.config), tc.name)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Context = 256
		eval := EstimateMemory(cfg, MemoryJob{Kind: JobEval, ScoreRows: 16})
		if eval.Params != tc.params {
			t.Errorf("%s: %d parameters, published %d", tc.name, eval.Params, tc.params)
		}
		ppo := EstimateMemory(cfg, MemoryJob{Kind: JobPPO, TrainRows: 8, ScoreRows: 16})
		p := ppo.Params
		if eval.Weights != 4*p || ppo.Weights != 16*p+4*int64(cfg.DModel) || ppo.Optimizer != 24*p || ppo.Copies != 8*p {
			t.Errorf("%s: weights %d / %d, optimizer %d, copies %d for %d parameters", tc.name, eval.Weights, ppo.Weights, ppo.Optimizer, ppo.Copies, p)
		}
		if counted := ppo.Weights + ppo.Optimizer + ppo.Copies + ppo.Activations; ppo.Total != counted+ppo.Overhead ||
			ppo.Overhead != int64(float64(counted)*0.4) || ppo.Activations <= 0 {
			t.Errorf("%s: total %d is not the sum of its parts %+v", tc.name, ppo.Total, ppo)
		}
		evalHalf := EstimateMemory(cfg, MemoryJob{Kind: JobEval, ScoreRows: 16, WeightBytes: 2})
		ppoHalf := EstimateMemory(cfg, MemoryJob{Kind: JobPPO, TrainRows: 8, ScoreRows: 16, WeightBytes: 2})
		if evalHalf.Weights != 2*p || ppoHalf.Weights != 12*p+4*int64(cfg.DModel) || ppoHalf.Weights != ppo.Weights-4*p {
			t.Errorf("%s: bf16 frozen weights %d (eval) and %d (PPO) for %d parameters", tc.name, evalHalf.Weights, ppoHalf.Weights, p)
		}
		t.Logf("%s, context 256: eval, bf16 weights %s", tc.name, evalHalf)
		t.Logf("%s, context 256: PPO, π_sft and π_pt in bf16 %s", tc.name, ppoHalf)
		big := EstimateMemory(cfg, MemoryJob{Kind: JobPPO, TrainRows: 32, ScoreRows: 128})
		t.Logf("%s, context 256: eval (16 rows) %s", tc.name, eval)
		t.Logf("%s, context 256: PPO (minibatch 8, score batch 16) %s", tc.name, ppo)
		t.Logf("%s, context 256: PPO (defaults: minibatch 32, score batch 128) %s", tc.name, big)
		if err := CheckMemory(big, 24<<30, "srppo ppo"); tc.name == "Qwen2.5-0.5B" && (err == nil || !strings.Contains(err.Error(), "24.00 GiB limit")) {
			t.Errorf("a 0.5B PPO run with the default batches was not refused at 24 GiB: %v", err)
		}
		if err := CheckMemory(eval, 24<<30, "srppo eval"); err != nil {
			t.Errorf("eval refused: %v", err)
		}
	}
}

// TestReadModelConfig reads the config of a checkpoint without its weights: the same Config as
// loading it, for a Hugging Face checkpoint and for this package's format.
func TestReadModelConfig(t *testing.T) {
	dir, _ := writeTinyLlama(t, tinyllama.Defaults("qwen2"))
	os.Remove(filepath.Join(dir, WeightsFile)) // not needed
	cfg, err := ReadModelConfig(dir, 24)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Family != FamilyQwen2 || cfg.Context != 24 || cfg.KVHeads != 2 || !cfg.QKVBias {
		t.Errorf("config %+v", cfg)
	}
	own := filepath.Join(t.TempDir(), "own")
	m := randomizedLM(t, tinyConfig(PositionsRoPE), 1)
	m.Tokenizer = datasets.NewTokenizer([]string{"a", "b", "c", "d", "e", "f"})
	if err := SaveModel(own, m); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadModelConfig(own, 0); err != nil || got != m.Config {
		t.Errorf("own format: %+v, %v; want %+v", got, err, m.Config)
	}
	if _, err := ReadModelConfig(filepath.Join(t.TempDir(), "none"), 0); err == nil {
		t.Error("a missing directory was read")
	}
}
