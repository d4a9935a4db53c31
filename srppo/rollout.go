package srppo

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gosrppo/gosrppo/datasets"
)

// RolloutRow is one sampled response with every per-token quantity of a PPO iteration, filled in
// stage by stage: Rollout sets the prompt, tokens and sampling log-probs; Score the model
// log-probs, Δ, KL, rewards and values; Advantages the advantages and returns. Every per-token
// slice has one entry per response token.
type RolloutRow struct {
	PromptIndex  int     `json:"prompt_index"` // index into the rollout's prompts
	Prompt       string  `json:"prompt"`
	Split        string  `json:"split,omitempty"`
	PromptTokens []int32 `json:"prompt_tokens"`

	Tokens    []int32   `json:"tokens"`    // response tokens (ending with <eos> unless truncated)
	Words     []string  `json:"words"`     // decoded response tokens, one per token
	Text      string    `json:"text"`      // decoded response
	LogpOld   []float32 `json:"logp_old"`  // log π_old(y_t): the sampling policy's log-probs
	Stopped   bool      `json:"stopped"`   // emitted <eos>
	Truncated bool      `json:"truncated"` // hit the token budget without <eos>

	// Score.
	LogpPolicy []float32 `json:"logp_policy,omitempty"` // teacher-forced log π_θ (sanity: equals LogpOld)
	LogpSFT    []float32 `json:"logp_sft,omitempty"`    // log π_sft = log π_ref
	LogpPT     []float32 `json:"logp_pt,omitempty"`     // log π_pt
	Delta      []float32 `json:"delta,omitempty"`       // Δ_t = log π_sft − log π_pt (clipped if configured)
	KL         []float32 `json:"kl,omitempty"`          // KL_t estimate to π_ref
	Placed     []float32 `json:"placed,omitempty"`      // placement(Δ)_t (after optional whitening)
	Rewards    []float32 `json:"rewards,omitempty"`     // r_t = −β·KL_t + placement(Δ)_t
	Values     []float32 `json:"values,omitempty"`      // V_old(s_t) from the critic
	Coherent   float64   `json:"coherent"`              // r(x, y) = Σ_t Δ_t
	Correct    *bool     `json:"correct,omitempty"`     // exact match, when a gold answer is known

	// Advantages.
	Advantages []float32 `json:"advantages,omitempty"` // GAE advantages (whitened if configured)
	Returns    []float32 `json:"returns,omitempty"`    // R_t = A_t + V_t (before whitening)
}

// Rollout is one PPO iteration's batch: its prompts and one row per sample. It serialises to
// JSON (float32 values round-trip exactly), so each stage can run in its own process.
type Rollout struct {
	Iteration int          `json:"iteration"`
	Config    PPOConfig    `json:"config"`
	Rows      []RolloutRow `json:"rows"`
	Stage     string       `json:"stage"` // "rollout", "scored", "advantages"
}

// Stages of a Rollout.
const (
	StageRollout    = "rollout"
	StageScored     = "scored"
	StageAdvantages = "advantages"
)

// Save writes the rollout as JSON atomically.
func (r *Rollout) Save(path string) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return datasets.WriteFileAtomic(path, data)
}

// LoadRollout reads a rollout saved by Save.
func LoadRollout(path string) (*Rollout, error) {
	var r Rollout
	if err := readJSON(path, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// PromptSource is a prompt for a rollout, with its split when known (for per-split metrics) and
// its gold answer when known (the oracle reward and exact-match metrics need one).
type PromptSource struct {
	Prompt string
	Split  string
	Answer string // "" when unknown
}

// SampleRollout is the Rollout stage: it draws cfg.Samples responses from the policy for each
// prompt at cfg.Temperature, recording the sampling log-probs.
func SampleRollout(policy *LM, prompts []PromptSource, cfg PPOConfig, iteration int, rng *rand.Rand) (*Rollout, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var ids [][]int32
	var rows []RolloutRow
	for i, p := range prompts {
		toks, err := policy.Tokenizer.EncodePrompt(p.Prompt)
		if err != nil {
			return nil, fmt.Errorf("prompt %d: %w", i+1, err)
		}
		for range cfg.Samples {
			ids = append(ids, toks)
			rows = append(rows, RolloutRow{PromptIndex: i, Prompt: p.Prompt, Split: p.Split, PromptTokens: toks})
		}
	}
	s, err := policy.sampler()
	if err != nil {
		return nil, err
	}
	eos := policy.Tokenizer.EOS()
	out, err := s.Sample(ids, SampleConfig{MaxNew: cfg.MaxNew, Temperature: cfg.Temperature, StopToken: eos, BatchRows: cfg.batchRows(len(ids))}, rng)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		r := &rows[i]
		r.Tokens, r.LogpOld, r.Stopped, r.Truncated = out.Tokens[i], out.LogProbs[i], out.Stopped[i], !out.Stopped[i]
		r.Words = datasets.TokenTexts(policy.Tokenizer, r.Tokens)
		r.Text = policy.Tokenizer.Decode(r.Tokens)
		if p := prompts[r.PromptIndex]; p.Answer != "" {
			ok := datasets.ScoreTokens(policy.Tokenizer, r.Tokens, p.Answer, eos).Exact
			r.Correct = &ok
		}
	}
	return &Rollout{Iteration: iteration, Config: cfg, Rows: rows, Stage: StageRollout}, nil
}

// Models are the four networks of SRPPO.
type Models struct {
	Policy *LM     // π_θ, trained
	SFT    *LM     // π_sft = π_ref, frozen: reward target and KL reference
	PT     *LM     // π_pt, frozen: reward baseline
	Critic *Critic // V_φ, trained
}

// Score is the Score stage: teacher-forced log-probs of the policy, π_sft and π_pt on the sampled
// tokens, Δ_t, the KL penalty, the placed rewards and the critic's values.
func Score(r *Rollout, ms Models) error {
	if r.Stage != StageRollout {
		return fmt.Errorf("score: rollout is at stage %q, want %q", r.Stage, StageRollout)
	}
	cfg := r.Config
	pairs := make([]Sequence, len(r.Rows))
	for i, row := range r.Rows {
		pairs[i] = PairSequence(row.PromptTokens, row.Tokens)
	}
	// The three models' log-probs and the critic's values are independent graphs: side by side.
	var lps [][][]float32
	var values [][]float32
	err := concurrently(true,
		func() (err error) {
			lps, err = ScoreModels([]*LM{ms.Policy, ms.SFT, ms.PT}, pairs, cfg.batchRows(len(pairs)))
			return err
		},
		func() (err error) {
			values, err = criticValues(ms.Critic, pairs, cfg.batchRows(len(pairs)))
			return err
		})
	if err != nil {
		return err
	}
	placed := make([][]float32, len(r.Rows))
	for i := range r.Rows {
		row := &r.Rows[i]
		row.LogpPolicy, row.LogpSFT, row.LogpPT, row.Values = lps[0][i], lps[1][i], lps[2][i], values[i]
		row.Delta = CoherentDelta(row.LogpSFT, row.LogpPT, cfg.DeltaClip)
		row.Coherent = CoherentReward(row.Delta)
		if row.KL, err = TokenKL(row.LogpOld, row.LogpSFT, cfg.KLEstimator); err != nil {
			return err
		}
		if cfg.Mode == PlaceOracle && row.Correct == nil {
			return fmt.Errorf("score: oracle reward needs a gold answer for prompt %q", row.Prompt)
		}
		shaped := row.Delta
		if cfg.DeltaBaseline != 0 {
			shaped = BaselineDelta(row.Delta, cfg.DeltaBaseline)
		}
		if placed[i], err = PlaceReward(cfg.Mode, shaped, row.LogpSFT, row.Correct != nil && *row.Correct); err != nil {
			return err
		}
	}
	if cfg.WhitenRewards {
		Whiten(placed, true)
	}
	for i := range r.Rows {
		row := &r.Rows[i]
		row.Placed = placed[i]
		row.Rewards = TokenRewards(row.KL, row.Placed, cfg.KLBeta)
	}
	r.Stage = StageScored
	return nil
}

// criticValues returns V(s_t) for every response token of each pair.
func criticValues(c *Critic, pairs []Sequence, batchRows int) ([][]float32, error) {
	e, err := c.evalExec()
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(pairs))
	t := c.LM.Config.Context
	for start := 0; start < len(pairs); start += batchRows {
		chunk := pairs[start:min(start+batchRows, len(pairs))]
		w := RowWidth(chunk, t)
		bt, err := OneSequencePerRow(chunk, batchRows, w)
		if err != nil {
			return nil, err
		}
		res, err := e.Call(batchInputs(bt)...)
		if err != nil {
			return nil, fmt.Errorf("critic values: %w", err)
		}
		flat, err := tensorFloats(res[0])
		if err != nil {
			return nil, err
		}
		for r, s := range chunk {
			out[start+r] = append([]float32(nil), flat[r*w+s.LossFrom:r*w+len(s.Tokens)-1]...)
		}
	}
	return out, nil
}

// Advantages is the Advantages stage: GAE(γ, λ) per row, returns R = A + V, then (by default)
// whitening of the advantages over all response tokens of the batch.
func Advantages(r *Rollout) error {
	if r.Stage != StageScored {
		return fmt.Errorf("advantages: rollout is at stage %q, want %q", r.Stage, StageScored)
	}
	advs := make([][]float32, len(r.Rows))
	for i := range r.Rows {
		row := &r.Rows[i]
		row.Advantages, row.Returns = GAE(row.Rewards, row.Values, r.Config.Gamma, r.Config.Lambda)
		advs[i] = row.Advantages
	}
	if r.Config.WhitenAdv {
		Whiten(advs, true)
	}
	r.Stage = StageAdvantages
	return nil
}

// explainedVariance is 1 − Var(R − V)/Var(R) over all tokens: how much of the return the critic
// predicts (1 perfect, 0 no better than a constant, < 0 worse).
func explainedVariance(rows []RolloutRow) float64 {
	var rs, diffs []float64
	for _, row := range rows {
		for t := range row.Returns {
			rs = append(rs, float64(row.Returns[t]))
			diffs = append(diffs, float64(row.Returns[t]-row.Values[t]))
		}
	}
	vr := variance(rs)
	if vr == 0 {
		return math.NaN()
	}
	return 1 - variance(diffs)/vr
}

func variance(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	var m, s float64
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return s / float64(len(x))
}
