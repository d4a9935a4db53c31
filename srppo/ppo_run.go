package srppo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/gosrppo/gosrppo/datasets"
)

// Metrics are the per-iteration numbers of design §3, plus the sanity signals.
type Metrics struct {
	Iteration    int     `json:"iteration"`
	Reward       float64 `json:"reward"`        // mean coherent reward Σ_t Δ_t per response
	RewardStd    float64 `json:"reward_std"`    // its standard deviation over responses
	DeltaContent Float   `json:"delta_content"` // mean Δ on tokens other than <eos>
	DeltaEOS     Float   `json:"delta_eos"`     // mean Δ on the <eos> token
	KL           float64 `json:"kl"`            // mean Σ_t KL_t per response, to π_ref
	Length       float64 `json:"length"`        // mean response length in tokens
	LengthStd    float64 `json:"length_std"`
	Lengths      []int   `json:"lengths"`       // every response length (for histograms)
	EOSPct       float64 `json:"eos_pct"`       // responses that emitted <eos>
	TruncPct     float64 `json:"truncated_pct"` // responses cut at the budget
	Correct      Float   `json:"correct_pct"`   // exact-match rate of the rollout, where answers are known
	UpdateStats
	// Sanity: the recomputed policy log-probs equal the sampling ones, and the first minibatch has
	// ratio 1 and approx-KL 0. Failures are listed here and printed loudly by the runners.
	LogpMaxDiff float64  `json:"logp_max_diff"`
	Sanity      []string `json:"sanity,omitempty"`
	// EvalEM is greedy exact match on the run's eval slice, per split (every EvalEvery iterations).
	EvalEM  map[string]float64 `json:"eval_em,omitempty"`
	Seconds float64            `json:"seconds"` // wall time of the iteration
}

// Sanity thresholds: float32 round-off is far below them; anything above is a bug.
const (
	sanityLogpTol  = 1e-3
	sanityRatioTol = 1e-3
)

// RolloutMetrics computes the iteration metrics of a rollout that went through every stage.
func RolloutMetrics(r *Rollout, up *UpdateStats) Metrics {
	m := Metrics{Iteration: r.Iteration}
	var rewards, lengths []float64
	var dContent, dEOS, nContent, nEOS, correct, nCorrect float64
	for _, row := range r.Rows {
		rewards = append(rewards, row.Coherent)
		lengths = append(lengths, float64(len(row.Tokens)))
		m.Lengths = append(m.Lengths, len(row.Tokens))
		var kl float64
		for t := range row.Tokens {
			kl += float64(row.KL[t])
			if row.Stopped && t == len(row.Tokens)-1 { // the sampler stops at EOS, so only the last token can be it
				dEOS += float64(row.Delta[t])
				nEOS++
			} else {
				dContent += float64(row.Delta[t])
				nContent++
			}
			m.LogpMaxDiff = math.Max(m.LogpMaxDiff, math.Abs(float64(row.LogpPolicy[t]-row.LogpOld[t])))
		}
		m.KL += kl / float64(len(r.Rows))
		if row.Stopped {
			m.EOSPct++
		} else {
			m.TruncPct++
		}
		if row.Correct != nil {
			nCorrect++
			correct += b2f(*row.Correct)
		}
	}
	n := float64(len(r.Rows))
	m.Reward, m.RewardStd = meanStd(rewards)
	m.Length, m.LengthStd = meanStd(lengths)
	m.EOSPct, m.TruncPct = 100*m.EOSPct/n, 100*m.TruncPct/n
	m.DeltaContent, m.DeltaEOS, m.Correct = Float(dContent/nContent), Float(dEOS/nEOS), Float(100*correct/nCorrect)
	if up != nil {
		m.UpdateStats = *up
		if math.Abs(up.FirstRatio-1) > sanityRatioTol || math.Abs(up.FirstKL) > sanityRatioTol {
			m.Sanity = append(m.Sanity, fmt.Sprintf("first minibatch ratio %.6f (want 1), approx-KL %.2e (want 0)", up.FirstRatio, up.FirstKL))
		}
	}
	if m.LogpMaxDiff > sanityLogpTol {
		m.Sanity = append(m.Sanity, fmt.Sprintf("recomputed policy log-probs differ from sampling ones by up to %.2e", m.LogpMaxDiff))
	}
	return m
}

func meanStd(x []float64) (float64, float64) {
	if len(x) == 0 {
		return math.NaN(), math.NaN()
	}
	var m float64
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	return m, math.Sqrt(variance(x))
}

// PPORun is a resumable SRPPO training run in a directory:
//
//	DIR/checkpoint/{policy,critic}/  weights and optimizer state (atomic, the last good one)
//	DIR/checkpoint/state.json        iteration, RNG state, config
//	DIR/metrics.jsonl                one Metrics line per iteration (appended)
//	DIR/completions.jsonl            prompt, response, reward, KL, length per row per iteration (appended)
//	DIR/rollout.json                 the latest iteration's rollout with every per-token quantity
//	DIR/model/                       the current policy as a plain model directory
//
// Appended lines carry their iteration; after an interruption the resumed iteration is appended
// again and readers keep the last line of each iteration (ReadMetrics does).
type PPORun struct {
	Dir       string
	Config    PPOConfig
	Models    Models
	Pool      []PromptSource
	Eval      []datasets.EvalItem // optional eval slice, greedy EM every EvalEvery iterations
	EvalEvery int
	Iteration int // iterations completed

	pcg  *rand.PCG
	rng  *rand.Rand
	seed uint64
	// Running levels of the critic's and the policy's losses, for the divergence guard.
	valueMon, policyMon lossMonitor
}

// runState is DIR/checkpoint/state.json.
type runState struct {
	Iteration int       `json:"iteration"`
	RNG       []byte    `json:"rng"` // PCG state
	Config    PPOConfig `json:"config"`
	Seed      uint64    `json:"seed"`
	// SeedRecorded: Seed is the run's (checkpoints written before it was recorded hold 0).
	SeedRecorded bool `json:"seed_recorded,omitempty"`
	// Running levels of the losses (absent in checkpoints written before the divergence guard).
	ValueMonitor  lossMonitor `json:"value_monitor"`
	PolicyMonitor lossMonitor `json:"policy_monitor"`
}

// NewPPORun starts a run from π_sft (policy and critic trunk) and π_pt, or resumes the one in dir.
func NewPPORun(dir string, cfg PPOConfig, seed uint64, sft, pt *LM, pool []PromptSource) (*PPORun, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(pool) == 0 {
		return nil, fmt.Errorf("ppo: empty prompt pool")
	}
	// Every prompt is checked now, not when a rollout draws it iterations later.
	for i, p := range pool {
		if err := CheckPrompt(sft.Tokenizer, p.Prompt, sft.Config.Context, cfg.MaxNew); err != nil {
			return nil, fmt.Errorf("ppo: pool prompt %d (from 1): %w", i+1, err)
		}
	}
	if sft.Config != pt.Config || !sft.Tokenizer.Equal(pt.Tokenizer) {
		return nil, fmt.Errorf("ppo: π_sft and π_pt differ in config or vocabulary: %s", configDiff(sft.Config, pt.Config))
	}
	run := &PPORun{Dir: dir, Config: cfg, Pool: pool, EvalEvery: 10, seed: seed}
	run.Models.SFT, run.Models.PT = sft, pt
	ckpt := filepath.Join(dir, CheckpointDir)
	if _, err := os.Stat(filepath.Join(resolveCheckpointDir(ckpt), StateFile)); err == nil {
		return run, run.resume(ckpt, cfg)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var err error
	if run.Models.Policy, err = sft.Clone(); err != nil {
		return nil, err
	}
	run.Models.Policy.Role = RolePolicy
	if run.Models.Critic, err = NewCritic(sft); err != nil {
		return nil, err
	}
	run.pcg = rand.NewPCG(seed, 0x9e3779b97f4a7c15)
	run.rng = rand.New(run.pcg)
	return run, nil
}

func (run *PPORun) resume(ckpt string, cfg PPOConfig) error {
	ckpt = resolveCheckpointDir(ckpt)
	var st runState
	if err := readJSON(filepath.Join(ckpt, StateFile), &st); err != nil {
		return err
	}
	if !st.SeedRecorded {
		st.Seed = run.seed
	}
	if st.Config != cfg || st.Seed != run.seed {
		diff := settingsDiff(struct {
			Config PPOConfig `json:"config"`
			Seed   uint64    `json:"seed"`
		}{st.Config, st.Seed}, struct {
			Config PPOConfig `json:"config"`
			Seed   uint64    `json:"seed"`
		}{cfg, run.seed})
		return fmt.Errorf("ppo: %s was written with other settings (%s); rerun with the checkpoint's settings to resume it, or use a new -out directory", ckpt, diff)
	}
	run.valueMon, run.policyMon = st.ValueMonitor, st.PolicyMonitor
	var err error
	if run.Models.Policy, err = loadLearner(filepath.Join(ckpt, "policy"), run.Models.SFT); err != nil {
		return err
	}
	trunk, err := loadLearner(filepath.Join(ckpt, "critic"), run.Models.SFT)
	if err != nil {
		return err
	}
	run.Models.Critic = &Critic{LM: trunk}
	run.pcg = &rand.PCG{}
	if err := run.pcg.UnmarshalBinary(st.RNG); err != nil {
		return fmt.Errorf("%s: rng state: %w", ckpt, err)
	}
	run.rng = rand.New(run.pcg)
	run.Iteration = st.Iteration
	return nil
}

// loadLearner loads a model directory with its extra state (optimizer, value head).
func loadLearner(dir string, like *LM) (*LM, error) {
	m, err := LoadModel(dir, &like.Config, like.Tokenizer)
	if err != nil {
		return nil, err
	}
	return m, restoreStoreState(m, filepath.Join(dir, StateTensors))
}

// Checkpoint writes policy, critic (with optimizer states), RNG and iteration atomically, and the
// current policy to DIR/model.
func (run *PPORun) Checkpoint() error {
	files := map[string][]byte{}
	for name, m := range map[string]*LM{"policy": run.Models.Policy, "critic": run.Models.Critic.LM} {
		// An update can make weights non-finite before any loss shows it: such weights must not
		// replace the last good checkpoint.
		params, err := m.Params()
		if err != nil {
			return err
		}
		if pname, i, bad := firstNonFinite(params); bad {
			return fmt.Errorf("%w: the %s's weights became non-finite in PPO iteration %d (%s[%d]); %s — lower the learning rates", ErrNonFinite, name, run.Iteration-1, pname, i,
				keptCheckpointAs(filepath.Join(run.Dir, "checkpoint"), "state.json", "the checkpoint of the last finished iteration"))
		}
		mf, err := modelFiles(m)
		if err != nil {
			return err
		}
		if mf[StateTensors], err = storeState(m); err != nil {
			return err
		}
		for f, data := range mf {
			files[name+"/"+f] = data
		}
	}
	rng, err := run.pcg.MarshalBinary()
	if err != nil {
		return err
	}
	st := runState{Iteration: run.Iteration, RNG: rng, Config: run.Config, Seed: run.seed, SeedRecorded: true, ValueMonitor: run.valueMon, PolicyMonitor: run.policyMon}
	if files[StateFile], err = json.MarshalIndent(st, "", "  "); err != nil {
		return err
	}
	if err := writeDirAtomic(filepath.Join(run.Dir, CheckpointDir), files); err != nil {
		return err
	}
	return SaveModel(filepath.Join(run.Dir, ModelSubdir), run.Models.Policy)
}

// DrawPrompts picks cfg.Prompts distinct prompts from the pool with the run's RNG.
func (run *PPORun) DrawPrompts() []PromptSource {
	n := min(run.Config.Prompts, len(run.Pool))
	perm := run.rng.Perm(len(run.Pool))[:n]
	out := make([]PromptSource, n)
	for i, k := range perm {
		out[i] = run.Pool[k]
	}
	return out
}

// Iterate runs one PPO iteration — Rollout → Score → Advantages → Update — appends its metrics
// and completions, and checkpoints. It returns the metrics and the finished rollout.
func (run *PPORun) Iterate() (*Metrics, *Rollout, error) {
	start := time.Now()
	r, err := SampleRollout(run.Models.Policy, run.DrawPrompts(), run.Config, run.Iteration, run.rng)
	if err != nil {
		return nil, nil, err
	}
	if err := Score(r, run.Models); err != nil {
		return nil, nil, err
	}
	if err := Advantages(r); err != nil {
		return nil, nil, err
	}
	up, err := Update(r, run.Models, run.rng)
	if err != nil {
		if errors.Is(err, ErrNonFinite) {
			err = fmt.Errorf("%w; %s", err, keptCheckpointAs(filepath.Join(run.Dir, "checkpoint"), "state.json", "the checkpoint of the last finished iteration"))
		}
		return nil, nil, err
	}
	if err := run.checkDivergence(up); err != nil {
		return nil, nil, err
	}
	m := RolloutMetrics(r, up)
	run.Iteration++
	if len(run.Eval) > 0 && run.EvalEvery > 0 && run.Iteration%run.EvalEvery == 0 {
		rep, err := Evaluate(run.Models.Policy, run.Eval, EvalConfig{Format: FormatChat, MaxNew: run.Config.MaxNew, BatchRows: 64})
		if err != nil {
			return nil, nil, err
		}
		m.EvalEM = map[string]float64{}
		for _, g := range rep.BySplit {
			m.EvalEM[g.Group] = g.EM
		}
	}
	m.Seconds = time.Since(start).Seconds()
	if err := run.appendLogs(r, m); err != nil {
		return nil, nil, err
	}
	if err := r.Save(filepath.Join(run.Dir, RolloutFile)); err != nil {
		return nil, nil, err
	}
	return &m, r, run.Checkpoint()
}

// checkDivergence stops the run when the critic's or the policy's loss of this iteration
// explodes relative to the previous iterations' (or beyond its cap) while staying finite
// (issue 17: a critic lr of 1e6 gave value losses of 3e23 and the run went on); the iteration is
// neither logged nor checkpointed.
func (run *PPORun) checkDivergence(up *UpdateStats) error {
	for _, c := range []struct {
		name string
		loss float64
		mon  *lossMonitor
		sc   lossScale
		lr   string
	}{{"value loss", up.ValueLoss, &run.valueMon, valueScale, "-critic-lr"}, {"policy loss", up.PolicyLoss, &run.policyMon, policyScale, "-actor-lr"}} {
		if diverged, _, why := c.mon.judge(c.loss, c.sc); diverged {
			return fmt.Errorf("%w at PPO iteration %d: %s %s — lower %s; %s", ErrDiverged, run.Iteration, c.name, why, c.lr,
				keptCheckpointAs(filepath.Join(run.Dir, "checkpoint"), "state.json", "the checkpoint of the last finished iteration"))
		}
	}
	run.valueMon.accept(up.ValueLoss)
	run.policyMon.accept(up.PolicyLoss)
	return nil
}

// completion is one line of completions.jsonl.
type completion struct {
	Iteration int     `json:"iteration"`
	Prompt    string  `json:"prompt"`
	Split     string  `json:"split,omitempty"`
	Response  string  `json:"response"`
	Reward    float64 `json:"reward"` // coherent reward Σ Δ
	KL        float64 `json:"kl"`     // Σ_t KL_t
	Length    int     `json:"length"`
	Stopped   bool    `json:"stopped"`
	Correct   *bool   `json:"correct,omitempty"`
}

func (run *PPORun) appendLogs(r *Rollout, m Metrics) error {
	var comps []completion
	for _, row := range r.Rows {
		var kl float64
		for _, v := range row.KL {
			kl += float64(v)
		}
		comps = append(comps, completion{Iteration: r.Iteration, Prompt: row.Prompt, Split: row.Split, Response: row.Text,
			Reward: row.Coherent, KL: kl, Length: len(row.Tokens), Stopped: row.Stopped, Correct: row.Correct})
	}
	if err := appendJSONL(filepath.Join(run.Dir, CompletionsFile), comps); err != nil {
		return err
	}
	return appendJSONL(filepath.Join(run.Dir, MetricsFile), []Metrics{m})
}

// appendJSONL appends records as lines (and syncs); existing lines are never rewritten.
func appendJSONL[T any](path string, records []T) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, rec := range records {
		if err := enc.Encode(rec); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadMetrics reads DIR/metrics.jsonl, keeping the last line of each iteration, in iteration order.
func ReadMetrics(dir string) ([]Metrics, error) {
	data, err := os.ReadFile(filepath.Join(dir, MetricsFile))
	if err != nil {
		return nil, err
	}
	byIter := map[int]Metrics{}
	dec := json.NewDecoder(bytes.NewReader(data))
	for line := 1; dec.More(); line++ {
		var m Metrics
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("%s: record %d: %w", filepath.Join(dir, MetricsFile), line, err)
		}
		byIter[m.Iteration] = m
	}
	var out []Metrics
	for _, i := range slices.Sorted(maps.Keys(byIter)) {
		if i >= 0 { // iterate the keys: a corrupt line's huge iteration number must not mean a huge loop
			out = append(out, byIter[i])
		}
	}
	return out, nil
}
