package srppo

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// Files of a PPOSteps session, beside the PPORun files (checkpoint/, model/, metrics.jsonl).
const (
	StepsRolloutFile    = "stage_rollout.json"    // the Rollout stage's output
	StepsScoredFile     = "stage_scored.json"     // the Score stage's output
	StepsAdvantagesFile = "stage_advantages.json" // the Advantages stage's output
)

// PPOSteps runs PPO iterations one stage at a time — Rollout, Score, Advantages, Update — for
// notebooks, where each stage is a cell and every cell a new process. Each stage reads the
// previous stage's file from the run directory and writes its own, so stages can be re-run in
// any order: a stage whose input is missing or belongs to an earlier iteration runs the stages
// before it first (and says so). Writing a stage's file deletes the files of the later stages,
// which were computed from the old one. Each stage uses the config given to OpenPPOSteps, so a
// researcher can change a knob and re-run just that stage (e.g. λ and Advantages). Update
// advances the iteration: it checkpoints policy and critic and appends to metrics.jsonl, like
// PPORun.Iterate. Randomness comes from the seed and the iteration, so re-running a stage with
// the same knobs gives the same result.
type PPOSteps struct {
	Run  *PPORun
	Seed uint64
	// Log receives notes about stages run implicitly (nil: os.Stdout).
	Log io.Writer
}

// OpenPPOSteps resumes the step-by-step session in dir, or starts one from π_sft (policy and
// critic trunk) and π_pt. Unlike NewPPORun it accepts a config that differs from the stored one:
// the session continues with the new knobs.
func OpenPPOSteps(dir string, cfg PPOConfig, seed uint64, sft, pt *LM, pool []PromptSource) (*PPOSteps, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	stored := cfg
	var st runState
	if err := readJSON(filepath.Join(resolveCheckpointDir(filepath.Join(dir, CheckpointDir)), StateFile), &st); err == nil {
		stored = st.Config
		if st.SeedRecorded {
			seed = st.Seed
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	run, err := NewPPORun(dir, stored, seed, sft, pt, pool)
	if err != nil {
		return nil, err
	}
	run.Config = cfg
	return &PPOSteps{Run: run, Seed: seed}, nil
}

func (s *PPOSteps) log() io.Writer {
	if s.Log == nil {
		return os.Stdout
	}
	return s.Log
}

// Iteration is the iteration the next Update completes (the number of updates done so far).
func (s *PPOSteps) Iteration() int { return s.Run.Iteration }

// rng is the random source of one stage of the current iteration.
func (s *PPOSteps) rng(stage uint64) *rand.Rand {
	return rand.New(rand.NewPCG(s.Seed, uint64(s.Run.Iteration)<<4|stage))
}

func (s *PPOSteps) path(name string) string { return filepath.Join(s.Run.Dir, name) }

// save writes r as name and deletes the later stages' files.
func (s *PPOSteps) save(r *Rollout, name string, later ...string) error {
	if err := os.MkdirAll(s.Run.Dir, 0o755); err != nil {
		return err
	}
	if err := r.Save(s.path(name)); err != nil {
		return err
	}
	for _, f := range later {
		if err := os.Remove(s.path(f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// load reads name if it holds the current iteration at stage; otherwise it runs prev (the
// stage that writes it) and returns its output.
func (s *PPOSteps) load(name, stage string, prev func() (*Rollout, error), prevName string) (*Rollout, error) {
	r, err := LoadRollout(s.path(name))
	if err == nil && r.Iteration == s.Run.Iteration && r.Stage == stage {
		return r, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	fmt.Fprintf(s.log(), "(no %s for iteration %d yet: running the %s stage first)\n", name, s.Run.Iteration, prevName)
	return prev()
}

// Rollout samples cfg.Prompts prompts from the pool and cfg.Samples responses to each from the
// current policy, saves them (stage_rollout.json) and returns them.
func (s *PPOSteps) Rollout() (*Rollout, error) {
	rng := s.rng(1)
	pool := s.Run.Pool
	n := min(s.Run.Config.Prompts, len(pool))
	prompts := make([]PromptSource, n)
	for i, k := range rng.Perm(len(pool))[:n] {
		prompts[i] = pool[k]
	}
	r, err := SampleRollout(s.Run.Models.Policy, prompts, s.Run.Config, s.Run.Iteration, rng)
	if err != nil {
		return nil, err
	}
	return r, s.save(r, StepsRolloutFile, StepsScoredFile, StepsAdvantagesFile)
}

// Score scores the current rollout (Score: log-probs, Δ, KL, placed rewards, values) with the
// current config and saves it (stage_scored.json).
func (s *PPOSteps) Score() (*Rollout, error) {
	r, err := s.load(StepsRolloutFile, StageRollout, s.Rollout, "rollout")
	if err != nil {
		return nil, err
	}
	r.Config = s.Run.Config
	if err := Score(r, s.Run.Models); err != nil {
		return nil, err
	}
	return r, s.save(r, StepsScoredFile, StepsAdvantagesFile)
}

// Advantages computes GAE advantages and returns of the scored rollout with the current config
// and saves it (stage_advantages.json).
func (s *PPOSteps) Advantages() (*Rollout, error) {
	r, err := s.load(StepsScoredFile, StageScored, s.Score, "score")
	if err != nil {
		return nil, err
	}
	r.Config = s.Run.Config
	if err := Advantages(r); err != nil {
		return nil, err
	}
	return r, s.save(r, StepsAdvantagesFile)
}

// Update runs the PPO update on the rollout with advantages, advances the iteration,
// checkpoints policy and critic, appends the iteration's metrics and completions, and returns
// the metrics and the rollout.
func (s *PPOSteps) Update() (*Metrics, *Rollout, error) {
	r, err := s.load(StepsAdvantagesFile, StageAdvantages, s.Advantages, "advantages")
	if err != nil {
		return nil, nil, err
	}
	r.Config = s.Run.Config
	up, err := Update(r, s.Run.Models, s.rng(2))
	if err != nil {
		return nil, nil, err
	}
	m := RolloutMetrics(r, up)
	if err := s.Run.appendLogs(r, m); err != nil {
		return nil, nil, err
	}
	s.Run.Iteration++
	return &m, r, s.Run.Checkpoint()
}

// Iterate runs all four stages of one iteration.
func (s *PPOSteps) Iterate() (*Metrics, *Rollout, error) {
	if _, err := s.Rollout(); err != nil {
		return nil, nil, err
	}
	if _, err := s.Score(); err != nil {
		return nil, nil, err
	}
	if _, err := s.Advantages(); err != nil {
		return nil, nil, err
	}
	return s.Update()
}
