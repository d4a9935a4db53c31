package study

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/srppo"
)

// The mechanism sweep (docs/design.md §6b): when does the coherent reward work? One factor at a
// time around the defaults at one N — the KL coefficient β, the reward shaping, the SFT epoch
// PPO starts from and targets, and how much π_pt knows of the chat format — plus a 2-D grid
// β × chat exposure, each configuration with Seeds seeds, and the length dynamics of `eos`
// against `token` under the same shapings over a longer horizon. Any "best configuration" is
// chosen on the validation split (val.jsonl) and reported on the eval splits.
//
// Its stages are cached, claimed and sharded like every other stage of the study:
//
//	swbase-x<i>                  π_pt variant i: the base continued-pretrained with chat Q&A documents
//	swt0-x<i>                    its zero-shot probe (chat EM per split)
//	swsft-x<i>-s<seed>           π_sft on it (best held-out loss, best held-out EM, last epoch)
//	swevalsft-x<i>-<sel>-s<seed> that SFT model on the eval and validation splits
//	swt3-x<i>-<sel>-s<seed>      T3 and its length-matched variant for that SFT model
//	swbaseline-x<i>-<sel>-s<seed> the per-token baseline b (mean Δ per token of its own samples)
//	ppo-sw-<config>-s<seed>      a PPO run; eval-sw-<config>-s<seed> its evaluation (eval + val)

// Reward shapings of the sweep (PPOConfig fields, around the raw coherent reward).
const (
	ShapeRaw      = "raw"      // Δ_t as it is
	ShapeClip     = "clip"     // Δ_t clipped to [−c, c] (SweepSpec.Clip)
	ShapeEOSMean  = "eos_mean" // the length-normalised placement mean_t Δ_t at <eos> (eos only)
	ShapeBaseline = "baseline" // Δ_t − b, b the mean Δ per token of π_sft's own samples
)

// SFT epochs a sweep's PPO can start from (and keep as its KL reference and reward numerator).
const (
	SelectLoss = "loss" // the epoch with the lowest held-out loss (the study's default)
	SelectEM   = "em"   // the epoch with the highest held-out exact match
	SelectLast = "last" // the last epoch
)

// Exposure is a π_pt variant: the shipped base continued-pretrained on Docs documents, of which
// a fraction Fraction are chat-format Q&A ("<q> OP args <a> answer", in-domain operations, a
// fraction Wrong of them with a wrong answer) and the rest the world's corpus. Docs 0 is the base
// itself.
type Exposure struct {
	Docs     int     `json:"docs"`
	Fraction float64 `json:"fraction"`
	Wrong    float64 `json:"wrong,omitempty"`
}

// Label names the variant in tables: "base" or e.g. "f=0.5 (12800 docs)".
func (e Exposure) Label() string {
	if e.Docs == 0 {
		return "base"
	}
	l := fmt.Sprintf("f=%g × %d docs", e.Fraction, e.Docs)
	if e.Wrong > 0 {
		l += fmt.Sprintf(", %g wrong", e.Wrong)
	}
	return l
}

// SweepSpec sizes the mechanism sweep. The first level of each axis is the default the other
// axes vary around.
type SweepSpec struct {
	N int `json:"n"`
	// SelectionN is the N of the SFT-selection axis (0: N). The selection matters where few
	// demonstrations make the held-out loss pick an early epoch (N = 16 in the grid); at N = 64
	// the best-loss epoch is the last one.
	SelectionN int        `json:"selection_n,omitempty"`
	Betas      []float64  `json:"betas"`
	Shapings   []string   `json:"shapings"`
	Clip       float64    `json:"clip"` // c of ShapeClip
	Selections []string   `json:"selections"`
	Exposures  []Exposure `json:"exposures"`
	// Grid adds every β × exposure pair (2-D), each with the default shaping and selection.
	Grid bool `json:"grid"`
	// GainIterations is the length of the runs that measure the EM gain; LengthIterations that of
	// the `eos` vs `token` runs under each of LengthShapings (criterion (d)).
	GainIterations   int      `json:"gain_iterations"`
	LengthIterations int      `json:"length_iterations"`
	LengthShapings   []string `json:"length_shapings"`
	// ValPerSplit validation items per split: every model is evaluated on them too, and the
	// best configuration is chosen on them.
	ValPerSplit int `json:"val_per_split"`
	// SelectItems held-out demonstrations score every SFT epoch by greedy exact match.
	SelectItems int `json:"select_items"`
	// BaselinePrompts pool prompts × T3K samples estimate the per-token baseline b.
	BaselinePrompts int `json:"baseline_prompts"`
	// ContinueLR is the learning rate of the continued pretraining of the exposure variants.
	ContinueLR float64 `json:"continue_lr"`
}

// Validate names the first field of the sweep that cannot run.
func (sp *SweepSpec) Validate() error {
	switch {
	case sp.N < 1 || sp.SelectionN < 0:
		return fmt.Errorf("sweep: n %d and selection_n %d, want ≥ 1 (selection_n 0: n)", sp.N, sp.SelectionN)
	case len(sp.Betas) == 0 || len(sp.Shapings) == 0 || len(sp.Selections) == 0 || len(sp.Exposures) == 0:
		return fmt.Errorf("sweep: betas, shapings, selections and exposures each need at least one level")
	case sp.Shapings[0] != ShapeRaw || sp.Selections[0] != SelectLoss || sp.Exposures[0].Docs != 0:
		return fmt.Errorf("sweep: the defaults come first: shaping %q, selection %q, exposure the base (docs 0)", ShapeRaw, SelectLoss)
	case sp.GainIterations < 1:
		return fmt.Errorf("sweep: gain_iterations %d, want ≥ 1", sp.GainIterations)
	case len(sp.LengthShapings) > 0 && sp.LengthIterations < 1:
		return fmt.Errorf("sweep: length_iterations %d, want ≥ 1 with length_shapings", sp.LengthIterations)
	case sp.ValPerSplit < 1 || sp.SelectItems < 1 || sp.BaselinePrompts < 1:
		return fmt.Errorf("sweep: val_per_split, select_items and baseline_prompts must be ≥ 1")
	case !(sp.ContinueLR > 0) && len(sp.Exposures) > 1:
		return fmt.Errorf("sweep: continue_lr %v, want > 0", sp.ContinueLR)
	}
	for _, b := range sp.Betas {
		if !(b >= 0) || math.IsInf(b, 0) {
			return fmt.Errorf("sweep: beta %v, want a finite number ≥ 0", b)
		}
	}
	for _, sh := range append(slices.Clone(sp.Shapings), sp.LengthShapings...) {
		if !slices.Contains([]string{ShapeRaw, ShapeClip, ShapeEOSMean, ShapeBaseline}, sh) {
			return fmt.Errorf("sweep: shaping %q (want raw, clip, eos_mean or baseline)", sh)
		}
		if sh == ShapeClip && !(sp.Clip > 0) {
			return fmt.Errorf("sweep: shaping clip needs clip > 0")
		}
	}
	if slices.Contains(sp.LengthShapings, ShapeEOSMean) {
		return fmt.Errorf("sweep: length_shapings: eos_mean is a placement of its own, with no `token` counterpart")
	}
	for _, sel := range sp.Selections {
		if !slices.Contains([]string{SelectLoss, SelectEM, SelectLast}, sel) {
			return fmt.Errorf("sweep: selection %q (want loss, em or last)", sel)
		}
	}
	for i, e := range sp.Exposures {
		if e.Docs < 0 || e.Fraction < 0 || e.Fraction > 1 || e.Wrong < 0 || e.Wrong > 1 || (i > 0 && e.Docs == 0) {
			return fmt.Errorf("sweep: exposure %d %+v: want docs > 0 (after the base) and fraction, wrong in [0, 1]", i, e)
		}
	}
	return nil
}

// SweepConfig is one PPO configuration of the sweep.
type SweepConfig struct {
	Exposure   int     `json:"exposure"` // index into SweepSpec.Exposures
	N          int     `json:"n"`        // demonstrations of its SFT model
	Selection  string  `json:"selection"`
	Beta       float64 `json:"beta"`
	Shaping    string  `json:"shaping"`
	Placement  string  `json:"placement"` // eos or token
	Iterations int     `json:"iterations"`
}

// Name is the configuration's run and stage name, e.g. "x0-N64-loss-b0.05-raw-eos-i20".
func (c SweepConfig) Name() string {
	return fmt.Sprintf("x%d-N%d-%s-b%s-%s-%s-i%d", c.Exposure, c.N, c.Selection, strconv.FormatFloat(c.Beta, 'g', -1, 64), c.Shaping, c.Placement, c.Iterations)
}

// sftModel is an SFT model of the sweep: trained on π_pt variant X with N demonstrations, at the
// epoch Sel selects.
type sftModel struct {
	X, N int
	Sel  string
}

func (c SweepConfig) sftModel() sftModel { return sftModel{X: c.Exposure, N: c.N, Sel: c.Selection} }

// SweepAxis is one table of the sweep: a name, what varies, and a configuration per level.
type SweepAxis struct {
	Name    string        `json:"name"`
	Varies  string        `json:"varies"`
	Levels  []string      `json:"levels"`
	Configs []SweepConfig `json:"configs"`
}

// The axes of a sweep, in the order RESULTS_sweep.md shows them.
const (
	AxisBeta      = "beta"
	AxisShaping   = "shaping"
	AxisSelection = "selection"
	AxisExposure  = "exposure"
	AxisGrid      = "beta × exposure"
	AxisLength    = "length"
)

// Default is the configuration every one-factor axis varies around.
func (sp *SweepSpec) Default() SweepConfig {
	return SweepConfig{Exposure: 0, N: sp.N, Selection: sp.Selections[0], Beta: sp.Betas[0], Shaping: sp.Shapings[0], Placement: srppo.PlaceEOS, Iterations: sp.GainIterations}
}

// Axes lists the sweep's tables and their configurations.
func (sp *SweepSpec) Axes() []SweepAxis {
	d := sp.Default()
	var axes []SweepAxis
	beta := SweepAxis{Name: AxisBeta, Varies: "KL coefficient β"}
	for _, b := range sp.Betas {
		c := d
		c.Beta = b
		beta.Levels, beta.Configs = append(beta.Levels, "β="+strconv.FormatFloat(b, 'g', -1, 64)), append(beta.Configs, c)
	}
	shaping := SweepAxis{Name: AxisShaping, Varies: "reward shaping (SRPPO-eos; `token` raw for reference)"}
	for _, sh := range sp.Shapings {
		c := d
		c.Shaping = sh
		shaping.Levels, shaping.Configs = append(shaping.Levels, sh), append(shaping.Configs, c)
	}
	tok := d
	tok.Placement = srppo.PlaceToken
	shaping.Levels, shaping.Configs = append(shaping.Levels, "token raw"), append(shaping.Configs, tok)
	selN := sp.N
	if sp.SelectionN > 0 {
		selN = sp.SelectionN
	}
	sel := SweepAxis{Name: AxisSelection, Varies: fmt.Sprintf("the SFT epoch PPO starts from (and its reference), N=%d", selN)}
	for _, s := range sp.Selections {
		c := d
		c.Selection, c.N = s, selN
		sel.Levels, sel.Configs = append(sel.Levels, "SFT by "+s), append(sel.Configs, c)
	}
	exp := SweepAxis{Name: AxisExposure, Varies: "π_pt's exposure to the chat format"}
	for i, e := range sp.Exposures {
		c := d
		c.Exposure = i
		exp.Levels, exp.Configs = append(exp.Levels, e.Label()), append(exp.Configs, c)
	}
	axes = append(axes, beta, shaping, sel, exp)
	if sp.Grid && len(sp.Betas) > 1 && len(sp.Exposures) > 1 {
		grid := SweepAxis{Name: AxisGrid, Varies: "β and π_pt's chat exposure together"}
		for i, e := range sp.Exposures {
			for _, b := range sp.Betas {
				c := d
				c.Exposure, c.Beta = i, b
				grid.Levels = append(grid.Levels, fmt.Sprintf("%s, β=%s", e.Label(), strconv.FormatFloat(b, 'g', -1, 64)))
				grid.Configs = append(grid.Configs, c)
			}
		}
		axes = append(axes, grid)
	}
	if len(sp.LengthShapings) > 0 {
		length := SweepAxis{Name: AxisLength, Varies: fmt.Sprintf("placement × shaping over %d iterations", sp.LengthIterations)}
		for _, sh := range sp.LengthShapings {
			for _, pl := range []string{srppo.PlaceEOS, srppo.PlaceToken} {
				c := d
				c.Shaping, c.Placement, c.Iterations = sh, pl, sp.LengthIterations
				length.Levels, length.Configs = append(length.Levels, pl+" "+sh), append(length.Configs, c)
			}
		}
		axes = append(axes, length)
	}
	return axes
}

// Configs are the distinct configurations of the sweep, in the order of the axes.
func (sp *SweepSpec) Configs() []SweepConfig {
	var out []SweepConfig
	for _, ax := range sp.Axes() {
		for _, c := range ax.Configs {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// sftModels are the SFT models some configuration starts from.
func (sp *SweepSpec) sftModels() []sftModel {
	var out []sftModel
	for _, c := range sp.Configs() {
		if m := c.sftModel(); !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// sftRuns are the SFT runs (π_pt variant, N) of the sweep, each keeping every selection.
func (sp *SweepSpec) sftRuns() [][2]int {
	var out [][2]int
	for _, m := range sp.sftModels() {
		if k := [2]int{m.X, m.N}; !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

func sweepSFTKey(x, n, seed int) string { return fmt.Sprintf("swsft-x%d-N%d-s%d", x, n, seed) }
func sweepModelKey(kind string, m sftModel, seed int) string {
	return fmt.Sprintf("%s-x%d-N%d-%s-s%d", kind, m.X, m.N, m.Sel, seed)
}
func sweepRunName(c SweepConfig, seed int) string { return fmt.Sprintf("sw-%s-s%d", c.Name(), seed) }

// SweepBaseDir is π_pt variant x's directory (x ≥ 1).
func (s *Study) SweepBaseDir(x int) string {
	return filepath.Join(s.ws.Dir, "sweep", "pt", fmt.Sprintf("x%d", x))
}

// SweepSFTDir is the SFT run on π_pt variant x with n demonstrations for a seed.
func (s *Study) SweepSFTDir(x, n, seed int) string {
	return filepath.Join(s.ws.Dir, "sweep", "sft", fmt.Sprintf("x%d-N%d-s%d", x, n, seed))
}

// sweepSFTModel is the directory of the SFT model m.
func (s *Study) sweepSFTModel(m sftModel, seed int) string {
	dir := s.SweepSFTDir(m.X, m.N, seed)
	switch m.Sel {
	case SelectEM:
		return filepath.Join(dir, srppo.SFTScoreSubdir)
	case SelectLast:
		return filepath.Join(dir, srppo.SFTLongSubdir)
	}
	return dir
}

// sweepPlan lists the sweep's stages in the order a single worker runs them: the base variants
// first, then per seed the SFT models and the PPO runs that start from them.
func (s *Study) sweepPlan() []Stage {
	sp := s.b.Sweep
	var plan []Stage
	baseKey := func(x int) []string {
		if x == 0 {
			return nil
		}
		return []string{fmt.Sprintf("swbase-x%d", x)}
	}
	for x := range sp.Exposures {
		if x > 0 {
			plan = append(plan, Stage{Key: fmt.Sprintf("swbase-x%d", x), Dir: s.SweepBaseDir(x)})
		}
		plan = append(plan, Stage{Key: fmt.Sprintf("swt0-x%d", x), Inputs: baseKey(x)})
	}
	configs := sp.Configs()
	for seed := 1; seed <= s.b.Seeds; seed++ {
		for _, run := range sp.sftRuns() {
			x, n := run[0], run[1]
			sft := sweepSFTKey(x, n, seed)
			plan = append(plan, Stage{Key: sft, Inputs: baseKey(x), Dir: s.SweepSFTDir(x, n, seed)})
			for _, m := range sp.sftModels() {
				if m.X != x || m.N != n {
					continue
				}
				plan = append(plan,
					Stage{Key: sweepModelKey("swevalsft", m, seed), Inputs: []string{sft}},
					Stage{Key: sweepModelKey("swt3", m, seed), Inputs: append([]string{sft}, baseKey(x)...)})
				if s.sweepNeedsBaseline(m) {
					plan = append(plan, Stage{Key: sweepModelKey("swbaseline", m, seed), Inputs: append([]string{sft}, baseKey(x)...)})
				}
			}
		}
		for _, c := range configs {
			name := sweepRunName(c, seed)
			in := append([]string{sweepSFTKey(c.Exposure, c.N, seed)}, baseKey(c.Exposure)...)
			if c.Shaping == ShapeBaseline {
				in = append(in, sweepModelKey("swbaseline", c.sftModel(), seed))
			}
			plan = append(plan, Stage{Key: "ppo-" + name, Inputs: in, Dir: s.PPODir(name)},
				Stage{Key: "eval-" + name, Inputs: []string{"ppo-" + name}})
		}
	}
	return plan
}

func (s *Study) sweepNeedsBaseline(m sftModel) bool {
	return slices.ContainsFunc(s.b.Sweep.Configs(), func(c SweepConfig) bool {
		return c.sftModel() == m && c.Shaping == ShapeBaseline
	})
}

// sweepRunners maps every stage key of the sweep plan to the call that computes (or loads) it.
func (s *Study) sweepRunners() map[string]func() error {
	sp := s.b.Sweep
	r := map[string]func() error{}
	for x := range sp.Exposures {
		if x > 0 {
			r[fmt.Sprintf("swbase-x%d", x)] = func() error { _, err := s.sweepBase(x); return err }
		}
		r[fmt.Sprintf("swt0-x%d", x)] = func() error { _, err := s.sweepT0(x); return err }
	}
	for seed := 1; seed <= s.b.Seeds; seed++ {
		for _, run := range sp.sftRuns() {
			x, n := run[0], run[1]
			r[sweepSFTKey(x, n, seed)] = func() error { return s.sweepSFT(x, n, seed) }
		}
		for _, m := range sp.sftModels() {
			r[sweepModelKey("swevalsft", m, seed)] = func() error { _, err := s.sweepEvalSFT(m, seed); return err }
			r[sweepModelKey("swt3", m, seed)] = func() error { _, err := s.sweepT3(m, seed); return err }
			r[sweepModelKey("swbaseline", m, seed)] = func() error { _, err := s.sweepBaseline(m, seed); return err }
		}
		for _, c := range sp.Configs() {
			name := sweepRunName(c, seed)
			r["ppo-"+name] = func() error { _, _, err := s.sweepPPO(c, seed); return err }
			r["eval-"+name] = func() error { _, err := s.sweepEvalPPO(c, seed); return err }
		}
	}
	return r
}

// continuedPretraining is what a base variant stage records.
type continuedPretraining struct {
	Docs     int `json:"docs"`
	ChatDocs int `json:"chat_docs"`
	Steps    int `json:"steps"`
}

// sweepBase continues pretraining π_pt on exposure x's documents (x ≥ 1) and returns the
// variant. The world is regenerated from its world.json (generation is deterministic) so that
// the chat Q&A documents avoid every demonstration, pool, eval and validation prompt.
func (s *Study) sweepBase(x int) (*srppo.LM, error) {
	if x == 0 {
		return s.pt, nil
	}
	if m := s.sweepBases[x]; m != nil {
		return m, nil
	}
	e := s.b.Sweep.Exposures[x]
	dir := s.SweepBaseDir(x)
	var done continuedPretraining
	err := s.cached(fmt.Sprintf("swbase-x%d", x), &done, func() error {
		wd, err := s.regenerateWorld()
		if err != nil {
			return err
		}
		w := wd.World
		nChat := int(math.Round(e.Fraction * float64(e.Docs)))
		if e.Docs-nChat > len(wd.Corpus) {
			return fmt.Errorf("exposure %d: %d corpus documents wanted, the world has %d", x, e.Docs-nChat, len(wd.Corpus))
		}
		chat, err := wd.ChatQADocs(datasets.ChatQAConfig{Docs: nChat, Ops: w.InDomainOps, Wrong: e.Wrong, Seed: uint64(x)})
		if err != nil {
			return err
		}
		// Chat documents interleaved evenly with the corpus ones (training shuffles rows anyway).
		docs := append(slices.Clone(wd.Corpus[:e.Docs-nChat]), chat...)
		seqs, err := srppo.EncodeCorpus(s.tok, docs)
		if err != nil {
			return err
		}
		m, err := s.pt.Clone()
		if err != nil {
			return err
		}
		cfg := srppo.DefaultPretrainConfig()
		cfg.Epochs, cfg.Seed = 1, uint64(x)
		cfg.Optim.LR, cfg.Optim.WarmupSteps = s.b.Sweep.ContinueLR, 10
		cfg.CheckpointDir = filepath.Join(dir, "train")
		s.logf("continued pretraining of π_pt variant %d (%s): %d documents, %d of them chat Q&A", x, e.Label(), len(docs), nChat)
		res, err := srppo.Train(m, seqs, nil, cfg, s.trainProgress(fmt.Sprintf("π_pt variant %d", x)))
		if err != nil {
			return err
		}
		m.Role = srppo.RoleBase
		done = continuedPretraining{Docs: len(docs), ChatDocs: nChat, Steps: res.Steps}
		return srppo.SaveModel(filepath.Join(dir, srppo.ModelSubdir), m)
	})
	if err != nil {
		return nil, err
	}
	m, err := srppo.LoadModel(filepath.Join(dir, srppo.ModelSubdir), &s.pt.Config, s.tok)
	if err != nil {
		return nil, err
	}
	s.sweepBases[x] = m
	return m, nil
}

// sweepT0 is variant x's zero-shot chat exact match per eval split.
func (s *Study) sweepT0(x int) (evalResult, error) {
	return s.evaluate(fmt.Sprintf("swt0-x%d", x), func() (*srppo.LM, error) { return s.sweepBase(x) })
}

// sweepSFT trains π_sft on variant x with n demonstrations for a seed, keeping the best-loss,
// best-EM and last epochs.
func (s *Study) sweepSFT(x, n, seed int) error {
	dir := s.SweepSFTDir(x, n, seed)
	var done struct{ BestEpoch, BestScoreEpoch int }
	return s.cached(sweepSFTKey(x, n, seed), &done, func() error {
		base, err := s.sweepBase(x)
		if err != nil {
			return err
		}
		train, held, err := srppo.LoadSFTDataFor(s.data, s.tok, n, s.pt.Config.Context)
		if err != nil {
			return err
		}
		selectItems, err := s.heldOutItems()
		if err != nil {
			return err
		}
		m, err := base.Clone()
		if err != nil {
			return err
		}
		cfg := srppo.DefaultSFTConfig()
		cfg.Seed, cfg.Epochs, cfg.MinSteps = uint64(seed), s.b.SFTEpochs, s.b.SFTMinSteps
		cfg.ScoreName = "held-out exact match"
		cfg.HeldOutScore = func(m *srppo.LM) (float64, error) {
			rep, err := srppo.Evaluate(m, selectItems, srppo.EvalConfig{Format: srppo.FormatChat, MaxNew: s.b.EvalMaxNew, BatchRows: 64})
			if err != nil {
				return 0, err
			}
			return rep.Overall.EM, nil
		}
		res, err := srppo.Train(m, train, held, cfg, s.trainProgress(fmt.Sprintf("SFT N=%d on π_pt variant %d seed %d", n, x, seed)))
		if err != nil {
			return err
		}
		done.BestEpoch, done.BestScoreEpoch = res.BestEpoch, res.BestScoreEpoch
		return srppo.SaveSFT(dir, m, res)
	})
}

// heldOutItems are the held-out demonstrations that select an SFT epoch by exact match.
func (s *Study) heldOutItems() ([]datasets.EvalItem, error) {
	path := filepath.Join(s.data, datasets.HeldOutFile)
	demos, err := datasets.LoadDemos(path)
	if err != nil {
		return nil, err
	}
	var items []datasets.EvalItem
	for _, d := range demos[:min(len(demos), s.b.Sweep.SelectItems)] {
		items = append(items, datasets.EvalItem{Prompt: d.Prompt, Answer: d.Response, Split: "heldout"})
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%s has no demonstrations to select an SFT epoch by exact match", path)
	}
	return items, nil
}

// sweepEval is a model's greedy evaluation on the eval and the validation splits.
type sweepEval struct {
	Eval evalResult `json:"eval"`
	Val  evalResult `json:"val"`
}

func (s *Study) evaluateBoth(key string, load func() (*srppo.LM, error)) (sweepEval, error) {
	var res sweepEval
	err := s.cached(key, &res, func() error {
		m, err := load()
		if err != nil {
			return err
		}
		if res.Eval, err = s.greedyEval(m, s.eval); err != nil {
			return err
		}
		res.Val, err = s.greedyEval(m, s.val)
		return err
	})
	return res, err
}

func (s *Study) sweepEvalSFT(m sftModel, seed int) (sweepEval, error) {
	return s.evaluateBoth(sweepModelKey("swevalsft", m, seed), s.load(s.sweepSFTModel(m, seed)))
}

// sweepT3 is T3 and its length-matched variant for one SFT model, from one set of samples.
type sweepT3 struct {
	T3     []srppo.RewardDiagnostics `json:"t3"`
	Length []srppo.LengthDiagnostics `json:"length"`
}

func (s *Study) sweepT3(m sftModel, seed int) (sweepT3, error) {
	var res sweepT3
	err := s.cached(sweepModelKey("swt3", m, seed), &res, func() error {
		sft, pt, err := s.sweepPair(m, seed)
		if err != nil {
			return err
		}
		rs, err := srppo.SampleRewards(sft, pt, srppo.EvalSlice(s.eval, s.b.T3Items), s.b.T3K, s.b.EvalMaxNew, 64, uint64(seed))
		if err != nil {
			return err
		}
		res = sweepT3{T3: rs.Diagnostics(), Length: rs.LengthDiagnostics()}
		return nil
	})
	return res, err
}

// sweepPair loads an SFT model of the sweep and the π_pt variant it was trained from.
func (s *Study) sweepPair(m sftModel, seed int) (sft, pt *srppo.LM, err error) {
	if pt, err = s.sweepBase(m.X); err != nil {
		return nil, nil, err
	}
	sft, err = srppo.LoadModel(s.sweepSFTModel(m, seed), &s.pt.Config, s.tok)
	return sft, pt, err
}

// sweepBaseline is b of the baseline shaping: the mean Δ per response token of π_sft's own
// temperature-1 samples on the first BaselinePrompts prompts of the pool (design §6b, 2).
func (s *Study) sweepBaseline(m sftModel, seed int) (float64, error) {
	var b float64
	err := s.cached(sweepModelKey("swbaseline", m, seed), &b, func() error {
		sft, pt, err := s.sweepPair(m, seed)
		if err != nil {
			return err
		}
		var items []datasets.EvalItem
		for _, p := range s.pool[:min(len(s.pool), s.b.Sweep.BaselinePrompts)] {
			items = append(items, datasets.EvalItem{Prompt: p.Prompt, Answer: p.Answer, Split: p.Split})
		}
		rs, err := srppo.SampleRewards(sft, pt, items, s.b.T3K, s.b.EvalMaxNew, 64, uint64(seed)+1000)
		if err != nil {
			return err
		}
		b = rs.MeanDeltaPerToken()
		if math.IsNaN(b) {
			return errors.New("the baseline samples have no response tokens")
		}
		s.logf("per-token baseline for π_pt variant %d, N=%d, SFT by %s, seed %d: b = %.3f nats", m.X, m.N, m.Sel, seed, b)
		return nil
	})
	return b, err
}

// sweepPPOConfig is the PPO configuration of c (b: the per-token baseline when c uses it).
func (s *Study) sweepPPOConfig(c SweepConfig, b float64) srppo.PPOConfig {
	mode := c.Placement
	if c.Shaping == ShapeEOSMean {
		mode = srppo.PlaceEOSMean
	}
	cfg := s.ppoConfig(mode)
	cfg.KLBeta = c.Beta
	switch c.Shaping {
	case ShapeClip:
		cfg.DeltaClip = s.b.Sweep.Clip
	case ShapeBaseline:
		cfg.DeltaBaseline = b
	}
	return cfg
}

func (s *Study) sweepPPO(c SweepConfig, seed int) ([]srppo.Metrics, string, error) {
	if err := s.sweepSFT(c.Exposure, c.N, seed); err != nil {
		return nil, "", err
	}
	var b float64
	if c.Shaping == ShapeBaseline {
		var err error
		if b, err = s.sweepBaseline(c.sftModel(), seed); err != nil {
			return nil, "", err
		}
	}
	pt, err := s.sweepBase(c.Exposure)
	if err != nil {
		return nil, "", err
	}
	return s.ppoRunOn(sweepRunName(c, seed), s.sweepSFTModel(c.sftModel(), seed), pt, seed, c.Iterations, s.sweepPPOConfig(c, b), s.pool)
}

func (s *Study) sweepEvalPPO(c SweepConfig, seed int) (sweepEval, error) {
	name := sweepRunName(c, seed)
	if _, _, err := s.sweepPPO(c, seed); err != nil {
		return sweepEval{}, err
	}
	return s.evaluateBoth("eval-"+name, s.load(s.PPODir(name)))
}

// loadVal reads the validation split the sweep selects on (val.jsonl of the data directory).
func (s *Study) loadVal() error {
	path := filepath.Join(s.data, datasets.ValFile)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("the sweep selects its best configuration on a validation split, and %s is missing (the built-in worlds write it; give a data directory one with the splits of eval.jsonl): %w", path, err)
	}
	val, err := srppo.LoadEvalFor(path, s.tok, 0, 0)
	if err != nil {
		return err
	}
	s.val = srppo.EvalSlice(val, s.b.Sweep.ValPerSplit)
	for _, sp := range s.splits {
		if !slices.ContainsFunc(s.val, func(it datasets.EvalItem) bool { return it.Split == sp }) {
			return fmt.Errorf("%s has no item of the eval split %q", path, sp)
		}
	}
	for _, run := range s.b.Sweep.sftRuns() {
		if _, err := os.Stat(filepath.Join(s.data, datasets.DemosFile(run[1]))); err != nil {
			return fmt.Errorf("the sweep fine-tunes on %d demonstrations: %w", run[1], err)
		}
	}
	if len(s.b.Sweep.Exposures) > 1 {
		if _, err := os.Stat(filepath.Join(s.data, datasets.WorldFile)); err != nil {
			return fmt.Errorf("the sweep's chat-exposure variants draw their Q&A documents from the world's generator, and %s has no %s (a generated world writes it); run a sweep with one exposure level on this data", s.data, datasets.WorldFile)
		}
	}
	return nil
}

// regenerateWorld generates the world of the data directory again from its world.json.
func (s *Study) regenerateWorld() (*datasets.WorldData, error) {
	path := filepath.Join(s.data, datasets.WorldFile)
	var rec struct {
		Seed  int64           `json:"seed"`
		World *datasets.World `json:"world"`
	}
	if err := srppo.ReadJSON(path, &rec); err != nil {
		return nil, err
	}
	if rec.World == nil {
		return nil, fmt.Errorf("%s: no \"world\" field", path)
	}
	return rec.World.Generate(rec.Seed)
}
