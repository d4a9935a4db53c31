package plotting

// Adapters from the srppo package's types to the inputs of the figures. The
// plotting package may import srppo; srppo never imports plotting.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"

	"github.com/gosrppo/gosrppo/srppo"
)

// RunMetrics is one PPO run's per-iteration metrics, as srppo.ReadMetrics
// returns them for the run's directory, and the name the run is shown under
// (e.g. "eos" or "token"). Iterations must be strictly increasing.
type RunMetrics struct {
	Name    string
	Metrics []srppo.Metrics
}

// metricDef is one per-iteration quantity of srppo.Metrics drawn as a
// curve.
type metricDef struct {
	key, title, unit string
	get              func(*srppo.Metrics) float64
	// optional metrics are undefined (NaN) at every iteration in some runs
	// (e.g. exact match without gold answers): such runs are left out
	// without a note.
	optional bool
}

// ppoMetrics are the curves of a PPO run in panel order; the keys of the
// first ten are PPODashboard's known metrics.
var ppoMetrics = []metricDef{
	{"reward", "reward ΣΔ", "nats / response", func(m *srppo.Metrics) float64 { return m.Reward }, false},
	{"kl", "KL to ref", "nats / response", func(m *srppo.Metrics) float64 { return m.KL }, false},
	{"length", "length", "tokens", func(m *srppo.Metrics) float64 { return m.Length }, false},
	{"eos_pct", "EOS", "% of responses", func(m *srppo.Metrics) float64 { return m.EOSPct }, false},
	{"clip_frac", "clip fraction", "fraction of tokens", func(m *srppo.Metrics) float64 { return m.ClipFrac }, false},
	{"approx_kl", "approx-KL", "nats", func(m *srppo.Metrics) float64 { return m.ApproxKL }, false},
	{"value_loss", "value loss", "squared error", func(m *srppo.Metrics) float64 { return m.ValueLoss }, false},
	{"explained_var", "explained var.", "1 = perfect critic", func(m *srppo.Metrics) float64 { return float64(m.ExplainedVar) }, false},
	{"entropy", "entropy", "nats / token", func(m *srppo.Metrics) float64 { return m.Entropy }, false},
	{"truncated_pct", "truncated", "% of responses", func(m *srppo.Metrics) float64 { return m.TruncPct }, false},
}

// Extra curves of CurvesFromMetrics, after ppoMetrics.
var (
	deltaContent = metricDef{"delta_content", "mean Δ_t, content", "nats / token",
		func(m *srppo.Metrics) float64 { return float64(m.DeltaContent) }, true}
	deltaEOS = metricDef{"delta_eos", "mean Δ_t at <eos>", "nats / token",
		func(m *srppo.Metrics) float64 { return float64(m.DeltaEOS) }, true}
	rolloutEM = metricDef{"correct_pct", "rollout exact match", "% of responses",
		func(m *srppo.Metrics) float64 { return float64(m.Correct) }, true}
)

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// checkIterations returns an error unless ms is non-empty and its
// iterations strictly increase.
func checkIterations(what string, ms []srppo.Metrics) error {
	if len(ms) == 0 {
		return fmt.Errorf("plotting: %s has no iterations", what)
	}
	for i := 1; i < len(ms); i++ {
		if ms[i].Iteration <= ms[i-1].Iteration {
			return fmt.Errorf("plotting: %s: iteration %d (index %d) follows iteration %d (iterations must increase)",
				what, ms[i].Iteration, i, ms[i-1].Iteration)
		}
	}
	return nil
}

// checkRuns validates runs: at least one, distinct non-empty names (a name
// picks a series' colour), increasing iterations.
func checkRuns(runs []RunMetrics) error {
	if len(runs) == 0 {
		return errors.New("plotting: no runs")
	}
	seen := map[string]bool{}
	for i, r := range runs {
		if r.Name == "" {
			return fmt.Errorf("plotting: run %d has no name", i)
		}
		if seen[r.Name] {
			return fmt.Errorf("plotting: run name %q appears twice (names must be distinct)", r.Name)
		}
		seen[r.Name] = true
		if err := checkIterations(fmt.Sprintf("run %q", r.Name), r.Metrics); err != nil {
			return err
		}
	}
	return nil
}

// series returns the finite points of def over ms, named name, and a note
// when undefined points were left out ("" when none were, or when the
// metric is optional and undefined everywhere).
func series(name, runName string, def metricDef, ms []srppo.Metrics) (Series, string) {
	s := Series{Name: name}
	var bad []int
	for i := range ms {
		v := def.get(&ms[i])
		if !finite(v) {
			bad = append(bad, ms[i].Iteration)
			continue
		}
		s.X = append(s.X, float64(ms[i].Iteration))
		s.Y = append(s.Y, v)
	}
	if len(bad) == 0 || def.optional && len(s.X) == 0 {
		return s, ""
	}
	return s, fmt.Sprintf("%s, run %q: undefined at %s left out", def.title, runName, describeIters(bad, len(ms)))
}

// describeIters says which iterations (of total) are meant, briefly.
func describeIters(its []int, total int) string {
	if len(its) == total {
		return fmt.Sprintf("all %d iterations", total)
	}
	s := fmt.Sprintf("%d of %d iterations (", len(its), total)
	for i, it := range its[:min(len(its), 5)] {
		if i > 0 {
			s += ", "
		}
		s += strconv.Itoa(it)
	}
	if len(its) > 5 {
		s += ", …"
	}
	return s + ")"
}

// DashboardFromMetrics converts one run's metrics (srppo.ReadMetrics) into
// PPODashboard's input: reward, kl, length, eos_pct, truncated_pct, entropy,
// clip_frac, approx_kl, value_loss and explained_var against iteration.
// PPODashboard needs a value at every iteration, so a metric that is
// undefined (NaN, e.g. explained variance when every return is equal) at
// some iteration is left out, and a note says so.
func DashboardFromMetrics(ms []srppo.Metrics) (Dashboard, []string, error) {
	if err := checkIterations("dashboard metrics", ms); err != nil {
		return Dashboard{}, nil, err
	}
	d := Dashboard{Iteration: make([]float64, len(ms)), Metrics: map[string][]float64{}}
	for i := range ms {
		d.Iteration[i] = float64(ms[i].Iteration)
	}
	var notes []string
	for _, def := range ppoMetrics {
		v := make([]float64, len(ms))
		var bad []int
		for i := range ms {
			v[i] = def.get(&ms[i])
			if !finite(v[i]) {
				bad = append(bad, ms[i].Iteration)
			}
		}
		if len(bad) > 0 {
			notes = append(notes, fmt.Sprintf("dashboard: %s is undefined at %s and is left out",
				def.title, describeIters(bad, len(ms))))
			continue
		}
		d.Metrics[def.key] = v
	}
	if len(d.Metrics) == 0 {
		return Dashboard{}, notes, errors.New("plotting: dashboard: no metric is defined at every iteration")
	}
	return d, notes, nil
}

// CurvesFromMetrics converts the metrics of one or more PPO runs into
// TrainingCurves panels against iteration: reward, KL, length, EOS %, clip
// fraction, approx-KL, value loss, explained variance, entropy and
// truncated %, then mean Δ_t on content tokens and at <eos>, the rollout's
// exact match (where gold answers are known) and the greedy eval EM per split
// (where the run evaluated). Each panel has one series per run, named by the
// run; with a single run, Δ content and Δ <eos> share a panel and the eval
// splits share a panel, one series each. Undefined (NaN) points are left
// out, with a note; panels left without points are dropped.
func CurvesFromMetrics(runs []RunMetrics) ([]Panel, []string, error) {
	if err := checkRuns(runs); err != nil {
		return nil, nil, err
	}
	var panels []Panel
	var notes []string
	add := func(p Panel) {
		var kept []Series
		for _, s := range p.Series {
			if len(s.X) > 0 {
				kept = append(kept, s)
			}
		}
		if len(kept) > 0 {
			p.Series = kept
			panels = append(panels, p)
		}
	}
	perRun := func(def metricDef) Panel {
		p := Panel{Title: def.title, XLabel: "PPO iteration", YLabel: def.unit}
		for _, r := range runs {
			s, note := series(r.Name, r.Name, def, r.Metrics)
			if note != "" {
				notes = append(notes, note)
			}
			p.Series = append(p.Series, s)
		}
		return p
	}
	for _, def := range ppoMetrics {
		add(perRun(def))
	}
	if len(runs) == 1 {
		p := Panel{Title: "mean Δ_t: content vs <eos>", XLabel: "PPO iteration", YLabel: "nats / token"}
		for _, x := range []struct {
			name string
			def  metricDef
		}{{"Δ content tokens", deltaContent}, {"Δ at <eos>", deltaEOS}} {
			s, note := series(x.name, runs[0].Name, x.def, runs[0].Metrics)
			if note != "" {
				notes = append(notes, note)
			}
			p.Series = append(p.Series, s)
		}
		add(p)
	} else {
		add(perRun(deltaContent))
		add(perRun(deltaEOS))
	}
	add(perRun(rolloutEM))

	// Greedy eval EM, per split (only at the iterations that evaluated).
	var splits []string
	for _, r := range runs {
		for _, m := range r.Metrics {
			for s := range m.EvalEM {
				if !slices.Contains(splits, s) {
					splits = append(splits, s)
				}
			}
		}
	}
	sort.Strings(splits)
	emSeries := func(name string, r RunMetrics, split string) Series {
		s := Series{Name: name}
		for _, m := range r.Metrics {
			if v, ok := m.EvalEM[split]; ok && finite(v) {
				s.X, s.Y = append(s.X, float64(m.Iteration)), append(s.Y, 100*v)
			}
		}
		return s
	}
	if len(runs) == 1 && len(splits) > 0 {
		p := Panel{Title: "greedy EM on the eval slice", XLabel: "PPO iteration", YLabel: "% exact match"}
		for _, sp := range splits {
			p.Series = append(p.Series, emSeries("eval "+sp, runs[0], sp))
		}
		add(p)
	} else {
		for _, sp := range splits {
			p := Panel{Title: "greedy EM, " + sp, XLabel: "PPO iteration", YLabel: "% exact match"}
			for _, r := range runs {
				p.Series = append(p.Series, emSeries(r.Name, r, sp))
			}
			add(p)
		}
	}
	if len(panels) == 0 {
		return nil, notes, errors.New("plotting: no metric is defined at any iteration")
	}
	return panels, notes, nil
}

// EpochLossesFromTrainResult converts the loss curve of `srppo pretrain` or
// `srppo sft` (the "result" of pretrain.json or sft.json) into
// OverfittingCurve's input. Epochs are numbered from 1, as the commands
// print them, and the best epoch is the result's BestEpoch. It is an error
// when the curve is empty or has no held-out loss (training without
// held-out data).
func EpochLossesFromTrainResult(r srppo.TrainResult) (EpochLosses, error) {
	if len(r.Curve) == 0 {
		return EpochLosses{}, errors.New("plotting: training result has no epochs")
	}
	l := EpochLosses{Best: r.BestEpoch + 1}
	for i, e := range r.Curve {
		if !finite(float64(e.HeldOut)) {
			return EpochLosses{}, fmt.Errorf("plotting: training result has no held-out loss at epoch %d (index %d): "+
				"the overfitting curve needs held-out data", e.Epoch+1, i)
		}
		l.Epoch = append(l.Epoch, e.Epoch+1)
		l.Train = append(l.Train, e.TrainLoss)
		l.HeldOut = append(l.HeldOut, float64(e.HeldOut))
	}
	if !slices.Contains(l.Epoch, l.Best) {
		return EpochLosses{}, fmt.Errorf("plotting: training result's best epoch %d is not in its curve (epochs %d–%d)",
			l.Best, l.Epoch[0], l.Epoch[len(l.Epoch)-1])
	}
	return l, nil
}

// TokenViewFromRow converts one scored rollout row into TokenRewards'
// input: the tokens are the row's Words (token ids as "#id" when Words does
// not have one word per token), the bars its Δ_t, and the heat strips
// log π_sft, log π_pt, KL_t, value and advantage, each only when the row
// has it. The row must be scored (Δ present).
func TokenViewFromRow(row srppo.RolloutRow, title string) (TokenView, error) {
	n := len(row.Tokens)
	if n == 0 {
		n = len(row.Words)
	}
	if n == 0 {
		return TokenView{}, fmt.Errorf("plotting: rollout row %q has no tokens", title)
	}
	if len(row.Delta) == 0 {
		return TokenView{}, fmt.Errorf("plotting: rollout row %q has no Δ_t: the rollout is not scored", title)
	}
	if len(row.Delta) != n {
		return TokenView{}, fmt.Errorf("plotting: rollout row %q has %d tokens but %d Δ_t values", title, n, len(row.Delta))
	}
	v := TokenView{Title: title, Delta: f64s(row.Delta)}
	if len(row.Words) == n {
		v.Tokens = slices.Clone(row.Words)
	} else {
		for _, id := range row.Tokens {
			v.Tokens = append(v.Tokens, "#"+strconv.Itoa(int(id)))
		}
	}
	for _, r := range []struct {
		label string
		vals  []float32
	}{
		{"log π_sft", row.LogpSFT},
		{"log π_pt", row.LogpPT},
		{"KL_t", row.KL},
		{"value", row.Values},
		{"advantage", row.Advantages},
	} {
		switch len(r.vals) {
		case 0:
		case n:
			v.Rows = append(v.Rows, TokenRow{Label: r.label, Values: f64s(r.vals)})
		default:
			return TokenView{}, fmt.Errorf("plotting: rollout row %q has %d tokens but %d %s values", title, n, len(r.vals), r.label)
		}
	}
	return v, nil
}

func f64s(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// TokenViewsFromRollout picks up to n rows (4 when n <= 0) of a scored
// rollout worth reading token by token — the highest, median and lowest
// coherent reward, then the longest response — and converts them with
// TokenViewFromRow. Titles give the row's index, why it was picked, its
// split and prompt.
func TokenViewsFromRollout(r *srppo.Rollout, n int) ([]TokenView, error) {
	if r == nil || len(r.Rows) == 0 {
		return nil, errors.New("plotting: rollout has no rows")
	}
	if r.Stage == srppo.StageRollout {
		return nil, fmt.Errorf("plotting: rollout of iteration %d is at stage %q: it has no Δ_t yet (score it first)", r.Iteration, r.Stage)
	}
	if n <= 0 {
		n = 4
	}
	order := make([]int, len(r.Rows)) // by reward, highest first
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return r.Rows[order[a]].Coherent > r.Rows[order[b]].Coherent })
	longest := 0
	for i, row := range r.Rows {
		if len(row.Tokens) > len(r.Rows[longest].Tokens) {
			longest = i
		}
	}
	picks := []struct {
		row int
		why string
	}{
		{order[0], "highest r"},
		{order[len(order)/2], "median r"},
		{order[len(order)-1], "lowest r"},
		{longest, "longest"},
	}
	var views []TokenView
	var used []int
	for _, p := range picks {
		if len(views) == n {
			break
		}
		if slices.Contains(used, p.row) {
			continue
		}
		used = append(used, p.row)
		row := r.Rows[p.row]
		title := fmt.Sprintf("row %d (%s", p.row, p.why)
		if row.Truncated {
			title += ", truncated"
		}
		title += ")"
		if row.Split != "" {
			title += " [" + row.Split + "]"
		}
		title += " " + row.Prompt
		v, err := TokenViewFromRow(row, title)
		if err != nil {
			return nil, err
		}
		views = append(views, v)
	}
	return views, nil
}

// LengthRunsFromMetrics converts the response lengths of one or more runs
// (Metrics.Lengths) into LengthHistograms' input at the given iterations
// (every iteration when iterations is nil). An iteration a run does not have,
// or has without lengths, is skipped for that run; a run left without any
// histogram is left out with a note, and it is an error when no run has one.
func LengthRunsFromMetrics(runs []RunMetrics, iterations []int) ([]LengthRun, []string, error) {
	if err := checkRuns(runs); err != nil {
		return nil, nil, err
	}
	var out []LengthRun
	var notes []string
	for _, r := range runs {
		lr := LengthRun{Name: r.Name}
		for _, m := range r.Metrics {
			if len(m.Lengths) == 0 || iterations != nil && !slices.Contains(iterations, m.Iteration) {
				continue
			}
			lr.Hists = append(lr.Hists, LengthHist{Iteration: m.Iteration, Lengths: slices.Clone(m.Lengths)})
		}
		if len(lr.Hists) == 0 {
			notes = append(notes, fmt.Sprintf("length histograms: run %q has no response lengths at iterations %v; left out", r.Name, iterations))
			continue
		}
		out = append(out, lr)
	}
	if len(out) == 0 {
		return nil, notes, fmt.Errorf("plotting: no run has response lengths at iterations %v", iterations)
	}
	return out, notes, nil
}

// MeanLengthsFromMetrics converts one or more runs' mean response length
// and its standard deviation (Metrics.Length, LengthStd) into
// MeanLengthCurves' input, one MeanSD per run against iteration. Undefined
// points are left out with a note.
func MeanLengthsFromMetrics(runs []RunMetrics) ([]MeanSD, []string, error) {
	if err := checkRuns(runs); err != nil {
		return nil, nil, err
	}
	var out []MeanSD
	var notes []string
	for _, r := range runs {
		ms := MeanSD{Name: r.Name}
		var bad []int
		for _, m := range r.Metrics {
			if !finite(m.Length) || !finite(m.LengthStd) || m.LengthStd < 0 {
				bad = append(bad, m.Iteration)
				continue
			}
			ms.X = append(ms.X, float64(m.Iteration))
			ms.Mean = append(ms.Mean, m.Length)
			ms.SD = append(ms.SD, m.LengthStd)
		}
		if len(bad) > 0 {
			notes = append(notes, fmt.Sprintf("mean length, run %q: undefined at %s left out", r.Name, describeIters(bad, len(r.Metrics))))
		}
		if len(ms.X) > 0 {
			out = append(out, ms)
		}
	}
	if len(out) == 0 {
		return nil, notes, errors.New("plotting: no run has a defined mean length")
	}
	return out, notes, nil
}

// RewardLengthFromRollout returns each row's response length (tokens) and
// coherent reward r = ΣΔ for RewardVsLength. The rollout must be scored.
func RewardLengthFromRollout(r *srppo.Rollout) (lengths, rewards []float64, err error) {
	if r == nil || len(r.Rows) == 0 {
		return nil, nil, errors.New("plotting: rollout has no rows")
	}
	if r.Stage == srppo.StageRollout {
		return nil, nil, fmt.Errorf("plotting: rollout of iteration %d is at stage %q: it has no rewards yet (score it first)", r.Iteration, r.Stage)
	}
	for _, row := range r.Rows {
		lengths = append(lengths, float64(len(row.Tokens)))
		rewards = append(rewards, row.Coherent)
	}
	return lengths, rewards, nil
}

// CompletionLine is the part of one line of a PPO run's completions.jsonl
// (written by srppo.PPORun.Iterate) that the figures use.
type CompletionLine struct {
	Iteration int     `json:"iteration"`
	Reward    float64 `json:"reward"` // coherent reward ΣΔ
	Length    int     `json:"length"` // response tokens
}

// ReadCompletions reads a PPO run's completions.jsonl. Errors name the file
// and the line.
func ReadCompletions(path string) ([]CompletionLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []CompletionLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var c CompletionLine
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return nil, fmt.Errorf("%s: line %d: %w", path, line, err)
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// RewardLengthFromCompletions returns the lengths and rewards of the
// completions of one iteration (the last one when iteration < 0) and that
// iteration. An iteration that was resumed after an interruption is
// appended again, so only the last contiguous block of lines of the
// iteration is kept, and of it, when rows > 0, only the last rows lines (an
// iteration has one line per rollout row: pass len(Metrics.Lengths) of that
// iteration; a re-run iteration right after its interrupted first attempt
// forms one block with it).
func RewardLengthFromCompletions(cs []CompletionLine, iteration, rows int) (lengths, rewards []float64, it int, err error) {
	if len(cs) == 0 {
		return nil, nil, 0, errors.New("plotting: no completions")
	}
	it = iteration
	if it < 0 {
		it = cs[0].Iteration
		for _, c := range cs {
			it = max(it, c.Iteration)
		}
	}
	start, end := -1, -1 // the last block of iteration it
	for i := 0; i < len(cs); i++ {
		if cs[i].Iteration != it {
			continue
		}
		j := i
		for j < len(cs) && cs[j].Iteration == it {
			j++
		}
		start, end, i = i, j, j
	}
	if start < 0 {
		return nil, nil, it, fmt.Errorf("plotting: no completions at iteration %d", it)
	}
	if rows > 0 {
		start = max(start, end-rows)
	}
	for _, c := range cs[start:end] {
		lengths = append(lengths, float64(c.Length))
		rewards = append(rewards, c.Reward)
	}
	return lengths, rewards, it, nil
}
