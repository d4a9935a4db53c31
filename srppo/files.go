package srppo

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/gosrppo/gosrppo/internal/atomicfile"
)

// The files of a run directory, in one place: a PPO run (NewPPORun, PPOSteps) and the output
// directories of the pretrain and SFT commands. Checkpoint contents are named in checkpoint.go
// (ConfigFile, WeightsFile, StateFile, …).
const (
	MetricsFile     = "metrics.jsonl"     // one Metrics record per PPO iteration
	CompletionsFile = "completions.jsonl" // every response of every PPO iteration
	RolloutFile     = "rollout.json"      // the last rollout with every stage's per-token values
	RolloutsDir     = "rollouts"          // earlier rollouts kept by iteration
	CheckpointDir   = "checkpoint"        // the policy, the critic and StateFile of a PPO run
	PretrainLogFile = "pretrain.json"     // `srppo pretrain`'s loss curve
	SFTLogFile      = "sft.json"          // an SFT run's overfitting curve
)

// WriteJSON writes v as indented JSON to path atomically, creating the directory.
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(data, '\n'))
}

// ReadJSON decodes the JSON file at path into v, naming the file in a decoding error.
func ReadJSON(path string, v any) error { return readJSON(path, v) }
