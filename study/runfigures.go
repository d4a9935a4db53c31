package study

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gosrppo/gosrppo/plotting"
	"github.com/gosrppo/gosrppo/srppo"
)

// LastIteration stands for "the last iteration" in a list of iterations to draw.
const LastIteration = -1

// NewFigureWriter returns a FigureWriter that writes figures in format into out and prints
// one line per figure written, skipped or failed to w.
func NewFigureWriter(out string, format plotting.Format, w io.Writer) *FigureWriter {
	return &FigureWriter{out: out, format: format, w: w}
}

// RunDir writes the figures of a PPO run (with the compare runs) and/or a pretrain/SFT run:
// what `srppo plot -run` writes.
func (p *FigureWriter) RunDir(dir string, compare []string, iters []int, rows int) error {
	return p.runDir(dir, compare, iters, rows)
}

// Reports writes the grouped bars of eval report files: what `srppo plot -report` writes.
func (p *FigureWriter) Reports(paths []string) error { return p.reports(paths) }

// Wrote lists the figure files written so far.
func (p *FigureWriter) Wrote() []string { return p.wrote }

// FigureWriter renders figures into out and keeps count of what failed.
type FigureWriter struct {
	out    string
	format plotting.Format
	w      io.Writer
	wrote  []string
	failed []string
}

// write renders one figure and writes it to out/name.FORMAT; a failure is printed and counted,
// so the other figures are still written.
func (p *FigureWriter) write(name string, render func(plotting.Format) ([]byte, error)) {
	path := filepath.Join(p.out, name+"."+string(p.format))
	data, err := render(p.format)
	if err == nil {
		if err = os.MkdirAll(p.out, 0o755); err == nil {
			err = plotting.WriteFile(path, data)
		}
	}
	if err != nil {
		fmt.Fprintf(p.w, "FAILED %s: %v\n", path, err)
		p.failed = append(p.failed, fmt.Sprintf("%s: %v", name, err))
		return
	}
	fmt.Fprintf(p.w, "wrote %s\n", path)
	p.wrote = append(p.wrote, path)
}

// skip prints why a figure is not written.
func (p *FigureWriter) skip(name, why string) {
	fmt.Fprintf(p.w, "skipped %s.%s: %s\n", name, p.format, why)
}

func (p *FigureWriter) notes(notes []string) {
	for _, n := range notes {
		fmt.Fprintf(p.w, "note: %s\n", n)
	}
}

// result is the command's error when some figure failed.
func (p *FigureWriter) result() error {
	if len(p.failed) > 0 {
		return fmt.Errorf("%d figure(s) failed (%d written): %s", len(p.failed), len(p.wrote), strings.Join(p.failed, "; "))
	}
	if len(p.wrote) == 0 {
		return errors.New("no figure written")
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// runDir writes the figures of a PPO run (with the compare runs) and/or a pretrain/SFT run.
func (p *FigureWriter) runDir(dir string, compare []string, iters []int, rows int) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("-run: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("-run %s: not a directory (for an eval report use -report)", dir)
	}
	isPPO := exists(filepath.Join(dir, srppo.MetricsFile))
	var trainFiles []string
	for _, name := range []string{srppo.PretrainLogFile, srppo.SFTLogFile} {
		if exists(filepath.Join(dir, name)) {
			trainFiles = append(trainFiles, filepath.Join(dir, name))
		}
	}
	if !isPPO && len(trainFiles) == 0 {
		return fmt.Errorf("%s is not a run directory: it has no metrics.jsonl (srppo ppo), pretrain.json (srppo pretrain) or sft.json (srppo sft)", dir)
	}
	if len(compare) > 0 && !isPPO {
		return fmt.Errorf("-compare needs PPO runs, but %s has no metrics.jsonl", dir)
	}
	if isPPO {
		if err := p.ppo(append([]string{dir}, compare...), iters, rows); err != nil {
			return err
		}
	}
	for _, path := range trainFiles {
		name := "overfitting"
		if len(trainFiles) > 1 {
			name += "_" + strings.TrimSuffix(filepath.Base(path), ".json")
		}
		if err := p.overfitting(path, name); err != nil {
			return err
		}
	}
	return p.result()
}

// readRunMetrics reads DIR/metrics.jsonl and checks that it holds srppo.Metrics records.
func readRunMetrics(dir string) ([]srppo.Metrics, error) {
	path := filepath.Join(dir, srppo.MetricsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if !dec.More() {
		return nil, fmt.Errorf("%s is empty: the run has not finished an iteration", path)
	}
	var first map[string]json.RawMessage
	if err := dec.Decode(&first); err != nil {
		return nil, fmt.Errorf("%s: record 1: %w", path, err)
	}
	for _, k := range []string{"iteration", "reward", "length"} {
		if _, ok := first[k]; !ok {
			return nil, fmt.Errorf("%s: record 1 has no %q field: not the metrics of 'srppo ppo'", path, k)
		}
	}
	ms, err := srppo.ReadMetrics(dir)
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("%s: no iterations", path)
	}
	return ms, nil
}

// runMode is the placement mode in DIR/checkpoint/state.json ("" when unknown).
func runMode(dir string) string {
	for _, ck := range []string{srppo.CheckpointDir, srppo.CheckpointDir + ".prev"} {
		data, err := os.ReadFile(filepath.Join(dir, ck, srppo.StateFile))
		if err != nil {
			continue
		}
		var st struct {
			Config struct {
				Mode string `json:"mode"`
			} `json:"config"`
		}
		if json.Unmarshal(data, &st) == nil {
			return st.Config.Mode
		}
	}
	return ""
}

// inputNames names runs or report files by their last path component (without .json), with
// more components where names collide ("a/eos" and "b/eos"). With dropShared, trailing
// components that every path shares are dropped first, so that eval reports with one file name
// are named by their directories ("a/eos/report.json" and "a/token/report.json" are "eos" and
// "token").
func inputNames(paths []string, dropShared bool) []string {
	parts := make([][]string, len(paths))
	distinct := map[string]bool{}
	for i, p := range paths {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		p = strings.TrimSuffix(filepath.ToSlash(filepath.Clean(p)), ".json")
		distinct[p] = true
		parts[i] = strings.Split(p, "/")
	}
	for dropShared && len(distinct) > 1 {
		last, shared := parts[0][len(parts[0])-1], true
		for _, ps := range parts {
			// Keep a non-empty last component.
			shared = shared && len(ps) > 1 && ps[len(ps)-2] != "" && ps[len(ps)-1] == last
		}
		if !shared {
			break
		}
		for i := range parts {
			parts[i] = parts[i][:len(parts[i])-1]
		}
	}
	// Lengthen colliding names one component at a time.
	depth := make([]int, len(paths))
	names := make([]string, len(paths))
	for i := range depth {
		depth[i] = 1
	}
	for {
		byName := map[string][]int{}
		for i, ps := range parts {
			names[i] = strings.TrimPrefix(strings.Join(ps[max(0, len(ps)-depth[i]):], "/"), "/")
			byName[names[i]] = append(byName[names[i]], i)
		}
		grown := false
		for _, idx := range byName {
			full := map[string]bool{}
			for _, i := range idx {
				full[strings.Join(parts[i], "/")] = true
			}
			if len(full) < 2 { // no collision, or the same path more than once
				continue
			}
			for _, i := range idx {
				if depth[i] < len(parts[i]) {
					depth[i]++
					grown = true
				}
			}
		}
		if !grown {
			break
		}
	}
	// Identical paths keep colliding: number them.
	count := map[string]int{}
	for _, n := range names {
		count[n]++
	}
	seen := map[string]int{}
	for i, n := range names {
		if count[n] > 1 {
			seen[n]++
			names[i] = fmt.Sprintf("%s #%d", n, seen[n])
		}
	}
	return names
}

// ppo writes the PPO figures of dirs[0], comparing with dirs[1:] where a figure shows runs.
func (p *FigureWriter) ppo(dirs []string, iters []int, rows int) error {
	names := inputNames(dirs, false)
	runs := make([]plotting.RunMetrics, len(dirs))
	for i, d := range dirs {
		ms, err := readRunMetrics(d)
		if err != nil {
			return err
		}
		name := names[i]
		if mode := runMode(d); mode != "" && !strings.Contains(name, mode) {
			name += " (" + mode + ")"
		}
		runs[i] = plotting.RunMetrics{Name: name, Metrics: ms}
	}
	lead := runs[0]

	// One dashboard per run: dashboard for the first, dashboard_2, … for the compared runs, so a
	// comparison (token vs eos) shows every run's panels, not only the first one's.
	for i, run := range runs {
		name := "dashboard"
		if i > 0 {
			name = fmt.Sprintf("dashboard_%d", i+1)
		}
		p.write(name, func(f plotting.Format) ([]byte, error) {
			d, notes, err := plotting.DashboardFromMetrics(run.Metrics)
			p.notes(notes)
			if err != nil {
				return nil, err
			}
			a, b := run.Metrics[0].Iteration, run.Metrics[len(run.Metrics)-1].Iteration
			return plotting.PPODashboard(fmt.Sprintf("PPO dashboard: %s, iterations %d–%d", run.Name, a, b), d, f)
		})
	}
	p.write("curves", func(f plotting.Format) ([]byte, error) {
		panels, notes, err := plotting.CurvesFromMetrics(runs)
		p.notes(notes)
		if err != nil {
			return nil, err
		}
		title := "PPO " + lead.Name
		if len(runs) > 1 {
			title = "PPO runs compared"
		}
		cols := 3
		if len(panels) > 12 {
			cols = 4
		}
		return plotting.TrainingCurves(title, panels, cols, f)
	})
	p.write("lengths", func(f plotting.Format) ([]byte, error) {
		chosen, notes := chooseIterations(runs, iters)
		p.notes(notes)
		if len(chosen) == 0 {
			return nil, fmt.Errorf("no run has response lengths at iterations %s", formatIterations(iters))
		}
		lr, notes, err := plotting.LengthRunsFromMetrics(runs, chosen)
		p.notes(notes)
		if err != nil {
			return nil, err
		}
		return plotting.LengthHistograms(lr, f)
	})
	p.write("mean_length", func(f plotting.Format) ([]byte, error) {
		ms, notes, err := plotting.MeanLengthsFromMetrics(runs)
		p.notes(notes)
		if err != nil {
			return nil, err
		}
		title := "Mean response length, " + lead.Name
		if len(runs) > 1 {
			title = "Mean response length by run"
		}
		return plotting.MeanLengthCurves(title, "response length (tokens)", ms, f)
	})

	rollout, rolloutPath, err := lastRollout(dirs[0])
	if err != nil {
		return err
	}
	comps := filepath.Join(dirs[0], srppo.CompletionsFile)
	switch {
	case exists(comps):
		p.write("reward_vs_length", func(f plotting.Format) ([]byte, error) {
			cs, err := plotting.ReadCompletions(comps)
			if err != nil {
				return nil, err
			}
			if len(cs) == 0 {
				return nil, fmt.Errorf("%s has no completions", comps)
			}
			it := cs[len(cs)-1].Iteration
			for _, c := range cs {
				it = max(it, c.Iteration)
			}
			rows := 0
			for _, m := range lead.Metrics {
				if m.Iteration == it {
					rows = len(m.Lengths)
				}
			}
			lengths, rewards, it, err := plotting.RewardLengthFromCompletions(cs, it, rows)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", comps, err)
			}
			return plotting.RewardVsLength(fmt.Sprintf("Reward vs length: %s, iteration %d", lead.Name, it), lengths, rewards, f)
		})
	case rollout != nil:
		p.write("reward_vs_length", func(f plotting.Format) ([]byte, error) {
			lengths, rewards, err := plotting.RewardLengthFromRollout(rollout)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", rolloutPath, err)
			}
			return plotting.RewardVsLength(fmt.Sprintf("Reward vs length: %s, iteration %d", lead.Name, rollout.Iteration), lengths, rewards, f)
		})
	default:
		p.skip("reward_vs_length", fmt.Sprintf("%s has no completions.jsonl and no saved rollout", dirs[0]))
	}

	if rollout == nil {
		p.skip("token_rewards", fmt.Sprintf("no saved rollout (%s or %s)",
			filepath.Join(dirs[0], srppo.RolloutFile), filepath.Join(dirs[0], srppo.RolloutsDir, "*.json")))
		return nil
	}
	p.write("token_rewards", func(f plotting.Format) ([]byte, error) {
		views, err := plotting.TokenViewsFromRollout(rollout, rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rolloutPath, err)
		}
		for i := range views {
			views[i].Title = fmt.Sprintf("iter %d %s", rollout.Iteration, views[i].Title)
		}
		return plotting.TokenRewards(views, 0, f)
	})
	return nil
}

// lastRollout loads DIR/rollout.json, or else the last of DIR/rollouts/*.json (by the number
// in the file name, then by name); it returns nil when there is none.
func lastRollout(dir string) (*srppo.Rollout, string, error) {
	path := filepath.Join(dir, srppo.RolloutFile)
	if !exists(path) {
		files, _ := filepath.Glob(filepath.Join(dir, srppo.RolloutsDir, "*.json"))
		if len(files) == 0 {
			return nil, "", nil
		}
		sort.SliceStable(files, func(a, b int) bool {
			na, nb := trailingNumber(files[a]), trailingNumber(files[b])
			if na != nb {
				return na < nb
			}
			return files[a] < files[b]
		})
		path = files[len(files)-1]
	}
	r, err := srppo.LoadRollout(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", err
		}
		return nil, "", fmt.Errorf("not a rollout saved by Rollout.Save: %w", err)
	}
	if len(r.Rows) == 0 {
		return nil, "", fmt.Errorf("%s: the rollout has no rows", path)
	}
	return r, path, nil
}

// trailingNumber is the last run of digits in a file's base name (-1 when none).
func trailingNumber(path string) int {
	base := filepath.Base(path)
	end := strings.LastIndexAny(base, "0123456789")
	if end < 0 {
		return -1
	}
	start := end
	for start > 0 && base[start-1] >= '0' && base[start-1] <= '9' {
		start--
	}
	n, err := strconv.Atoi(base[start : end+1])
	if err != nil {
		return -1
	}
	return n
}

// chooseIterations resolves the -iterations list against the iterations that have response
// lengths in some run: "last" becomes the last such iteration, and iterations no run has are
// dropped with a note.
func chooseIterations(runs []plotting.RunMetrics, want []int) ([]int, []string) {
	var avail []int
	for _, r := range runs {
		for _, m := range r.Metrics {
			if len(m.Lengths) > 0 && !slices.Contains(avail, m.Iteration) {
				avail = append(avail, m.Iteration)
			}
		}
	}
	if len(avail) == 0 {
		return nil, nil
	}
	slices.Sort(avail)
	var chosen, missing []int
	for _, it := range want {
		if it == LastIteration {
			it = avail[len(avail)-1]
		}
		switch {
		case slices.Contains(chosen, it):
		case slices.Contains(avail, it):
			chosen = append(chosen, it)
		default:
			missing = append(missing, it)
		}
	}
	slices.Sort(chosen)
	var notes []string
	if len(missing) > 0 {
		notes = append(notes, fmt.Sprintf("length histograms: no run has iteration %s (runs have %d–%d); skipped",
			formatIterations(missing), avail[0], avail[len(avail)-1]))
	}
	return chosen, notes
}

func formatIterations(its []int) string {
	s := make([]string, len(its))
	for i, it := range its {
		if it == LastIteration {
			s[i] = "last"
		} else {
			s[i] = strconv.Itoa(it)
		}
	}
	return strings.Join(s, ", ")
}

// overfitting writes the train/held-out loss curve of pretrain.json or sft.json.
func (p *FigureWriter) overfitting(path, name string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc struct {
		Result *srppo.TrainResult `json:"result"`
		Demos  int                `json:"demos"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if doc.Result == nil || len(doc.Result.Curve) == 0 {
		return fmt.Errorf("%s has no loss curve (\"result\": {\"curve\": [...]}) — is it written by srppo pretrain or sft?", path)
	}
	title := "Pretraining π_pt: loss per epoch"
	if filepath.Base(path) == srppo.SFTLogFile {
		title = "SFT π_sft: loss per epoch"
		if doc.Demos > 0 {
			title = fmt.Sprintf("SFT π_sft on %d demos: loss per epoch", doc.Demos)
		}
	}
	p.write(name, func(f plotting.Format) ([]byte, error) {
		l, err := plotting.EpochLossesFromTrainResult(*doc.Result)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return plotting.OverfittingCurve(title, l, f)
	})
	return nil
}

// reports writes grouped_bars: exact match per split (and overall) of each eval report.
func (p *FigureWriter) reports(paths []string) error {
	names := inputNames(paths, true)
	var bars, overall []plotting.Bar
	formats := map[string]bool{}
	for i, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var rep srppo.EvalReport
		if err := json.Unmarshal(data, &rep); err != nil {
			return fmt.Errorf("%s: not an eval report: %w", path, err)
		}
		if len(rep.BySplit) == 0 {
			return fmt.Errorf("%s has no per-split results (\"by_split\" is empty or missing) — is it written by 'srppo eval -report'?", path)
		}
		formats[rep.Format] = true
		for _, g := range rep.BySplit {
			bars = append(bars, plotting.Bar{Method: names[i], Group: g.Group, Mean: 100 * g.EM})
		}
		if rep.Overall.N > 0 && len(rep.BySplit) > 1 {
			overall = append(overall, plotting.Bar{Method: names[i], Group: "all splits", Mean: 100 * rep.Overall.EM})
		}
	}
	bars = append(bars, overall...)
	title := "Exact match per split"
	if len(formats) == 1 {
		for f := range formats {
			if f != "" {
				title += " (" + f + " format)"
			}
		}
	}
	p.write("grouped_bars", func(f plotting.Format) ([]byte, error) {
		return plotting.GroupedBars(title, "exact match (%)", bars, f)
	})
	return p.result()
}
