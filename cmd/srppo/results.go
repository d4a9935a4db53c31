package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/plotting"
	"github.com/gosrppo/gosrppo/srppo"
)

// The files `srppo reproduce` writes beside its tables.
const (
	resultsFile = "RESULTS.md"
	figuresDir  = "figures"
	// publishedFigures is the folder, beside a published RESULTS.md, that receives its figures.
	publishedFigures = "results"
	// pairFigures (under the figures) holds `srppo plot`'s figures of the seed-1 token and eos runs.
	pairFigures = "token_vs_eos"
)

// verdict is the outcome of a pre-registered criterion: held, not held, or not measurable with
// what the run has (Measured false), with the numbers that decided it.
type verdict struct {
	Measured, Held bool
	Lines          []string // one line of evidence each
}

func (v verdict) label() string {
	switch {
	case !v.Measured:
		return "not measured"
	case v.Held:
		return "**held**"
	}
	return "**not held**"
}

// mean is the mean of column col, NaN when the row has no such column.
func (r tableRow) mean(col string) float64 {
	if c, ok := r.Cells[col]; ok {
		return float64(c.Mean)
	}
	return math.NaN()
}

// cellMean is the mean of a table cell, NaN when the row or column is missing.
func cellMean(rows []tableRow, name, col string) float64 {
	for _, r := range rows {
		if r.Name == name {
			return r.mean(col)
		}
	}
	return math.NaN()
}

// lengthChange reads a T2 row: mean rollout length at iterations first and last, and the change
// in percent (NaN where the row lacks them).
func lengthChange(r tableRow, first, last int) (l0, l1, pct float64) {
	l0, l1 = r.mean(fmt.Sprintf("len@%d", first)), r.mean(fmt.Sprintf("len@%d", last))
	return l0, l1, 100 * (l1/l0 - 1)
}

// rowNamed is the row called name, or an empty row (every mean NaN).
func rowNamed(rows []tableRow, name string) tableRow {
	for _, r := range rows {
		if r.Name == name {
			return r
		}
	}
	return tableRow{Name: name}
}

// criterionA is design §6 (a): at every N ≤ 64 SRPPO-eos beats SFT by ≥ 5 EM points on some
// out-of-domain split and is within 2 points in domain (3-seed means), and the best
// out-of-domain gain is smaller at N = 1024 than at each N ≤ 64. inDomain is the first split
// of the eval file; every other split is out of domain.
func criterionA(t1 []tableRow, ns []int, splits []string) verdict {
	var v verdict
	if len(splits) < 2 {
		v.Lines = append(v.Lines, "the eval set has no out-of-domain split")
		return v
	}
	gain := func(n int, split string) float64 {
		return 100 * (cellMean(t1, fmt.Sprintf("N=%d SRPPO-eos", n), split+" EM") - cellMean(t1, fmt.Sprintf("N=%d SFT", n), split+" EM"))
	}
	bestOOD := func(n int) (float64, string) {
		best, at := math.Inf(-1), ""
		for _, s := range splits[1:] {
			if g := gain(n, s); g > best {
				best, at = g, s
			}
		}
		return best, at
	}
	small := slices.DeleteFunc(slices.Clone(ns), func(n int) bool { return n > 64 })
	if len(small) == 0 || !slices.Contains(ns, 1024) {
		v.Lines = append(v.Lines, fmt.Sprintf("needs N ≤ 64 and N = 1024; the run has N = %v", ns))
		return v
	}
	v.Measured, v.Held = true, true
	large, largeAt := bestOOD(1024)
	for _, n := range small {
		ood, at := bestOOD(n)
		id := gain(n, splits[0])
		const tol = 1e-9 // float rounding must not decide a boundary case
		okOOD, okID, narrows := ood >= 5-tol, math.Abs(id) <= 2+tol, large < ood
		v.Held = v.Held && okOOD && okID && narrows
		v.Lines = append(v.Lines, fmt.Sprintf("N=%d: best out-of-domain gain %+.1f points (%s; needs ≥ +5: %s), in-domain %+.1f (needs within ±2: %s), N=1024 gain %+.1f (%s; narrower: %s)",
			n, ood, at, yesNo(okOOD), id, yesNo(okID), large, largeAt, yesNo(narrows)))
	}
	return v
}

// criterionB is design §6 (b): by the last iteration, `token` moves the mean rollout length ≥ 25 %
// away from the SFT policy's (iteration 0) or truncates > 20 % of responses, while `eos` stays
// within ±10 % of it (3-seed means).
func criterionB(t2 []tableRow, at []int) verdict {
	var v verdict
	if len(at) < 2 {
		v.Lines = append(v.Lines, "the run reports length at fewer than two iterations")
		return v
	}
	first, last := at[0], at[len(at)-1]
	tokRow := rowNamed(t2, srppo.PlaceToken)
	tok0, tok1, tok := lengthChange(tokRow, first, last)
	eos0, eos1, eos := lengthChange(rowNamed(t2, srppo.PlaceEOS), first, last)
	trunc := tokRow.mean(fmt.Sprintf("trunc%%@%d", last))
	if math.IsNaN(tok) || math.IsNaN(eos) {
		v.Lines = append(v.Lines, "the run has no `token` and `eos` length dynamics (T2)")
		return v
	}
	// The tolerance keeps float rounding from deciding a boundary case (4.4/4 − 1 > 0.1).
	const tol = 1e-9
	okTok, okEOS := math.Abs(tok) >= 25-tol || trunc > 20, math.Abs(eos) <= 10+tol
	v.Measured, v.Held = true, okTok && okEOS
	v.Lines = append(v.Lines,
		fmt.Sprintf("`token`: mean length %.2f → %.2f tokens (%+.0f %%), truncated %.1f %% at iteration %d (needs |change| ≥ 25 %% or truncated > 20 %%: %s)",
			tok0, tok1, tok, trunc, last, yesNo(okTok)),
		fmt.Sprintf("`eos`: mean length %.2f → %.2f tokens (%+.0f %%) at iteration %d (needs within ±10 %%: %s)",
			eos0, eos1, eos, last, yesNo(okEOS)))
	return v
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// figures renders the study's figures into dir and returns their file names.
func (rp *reproduction) figures(dir string) ([]string, error) {
	fw := &figureWriter{out: dir, format: plotting.PNG, w: rp.log}
	emRows := func(rows []tableRow, prefix string) []plotting.Bar {
		var bars []plotting.Bar
		for _, r := range rows {
			if !strings.HasPrefix(r.Name, prefix) {
				continue
			}
			for _, s := range rp.splits {
				c := r.Cells[s+" EM"]
				if !math.IsNaN(float64(c.Mean)) {
					bars = append(bars, plotting.Bar{Method: strings.TrimPrefix(r.Name, prefix), Group: s, Mean: 100 * float64(c.Mean), SD: 100 * nanToZero(float64(c.SD))})
				}
			}
		}
		return bars
	}
	for _, n := range rp.b.Ns {
		prefix := fmt.Sprintf("N=%d ", n)
		fw.write(fmt.Sprintf("t1_N%d", n), func(f plotting.Format) ([]byte, error) {
			return plotting.GroupedBars(fmt.Sprintf("T1: greedy exact match by split, N = %d demonstrations (mean ± sd over %d seeds)", n, rp.b.Seeds), "exact match (%)", emRows(rp.tables.T1, prefix), f)
		})
		fw.write(fmt.Sprintf("t3_N%d", n), func(f plotting.Format) ([]byte, error) {
			var bars []plotting.Bar
			for _, r := range rp.tables.T3 {
				if !strings.HasPrefix(r.Name, prefix) {
					continue
				}
				for _, col := range r.Order[:3] { // pass@1, pass@K, best-of-K by r
					c := r.Cells[col]
					bars = append(bars, plotting.Bar{Method: col, Group: strings.TrimPrefix(r.Name, prefix), Mean: 100 * nanToZero(float64(c.Mean)), SD: 100 * nanToZero(float64(c.SD))})
				}
			}
			return plotting.GroupedBars(fmt.Sprintf("T3: SFT sampling before PPO, N = %d: does reranking by r beat pass@1?", n), "exact match (%)", bars, f)
		})
	}
	if len(rp.tables.T4) > 0 {
		fw.write("t4_pools", func(f plotting.Format) ([]byte, error) {
			return plotting.GroupedBars(fmt.Sprintf("T4: SRPPO-eos by PPO prompt pool, N = %d", rp.b.T2N), "exact match (%)", emRows(rp.tables.T4, ""), f)
		})
	}
	results := rp.results[rp.b.T2N]
	if len(results) == 0 {
		return fw.wrote, fw.result()
	}
	fw.write("t2_mean_length", func(f plotting.Format) ([]byte, error) {
		var curves []plotting.MeanSD
		for _, name := range sortedKeys(results[0].metrics) {
			c := plotting.MeanSD{Name: name}
			for i, m := range results[0].metrics[name] {
				var per []float64
				for _, r := range results {
					if i < len(r.metrics[name]) {
						per = append(per, r.metrics[name][i].Length)
					}
				}
				mc := newCell(per)
				c.X, c.Mean, c.SD = append(c.X, float64(m.Iteration)), append(c.Mean, float64(mc.Mean)), append(c.SD, nanToZero(float64(mc.SD)))
			}
			curves = append(curves, c)
		}
		return plotting.MeanLengthCurves(fmt.Sprintf("T2: mean rollout length by placement mode, N = %d (band: sd over %d seeds)", rp.b.T2N, len(results)), "response length (tokens)", curves, f)
	})
	// The seed-1 runs of `token` and `eos` side by side: every per-iteration curve, the length
	// histograms, reward against length and the token-level rewards of token's last rollout.
	var pair []string
	for _, mode := range []string{srppo.PlaceToken, srppo.PlaceEOS} {
		if d, ok := results[0].dirs[mode]; ok {
			pair = append(pair, d)
		}
	}
	if len(pair) > 0 {
		sub := &figureWriter{out: filepath.Join(dir, pairFigures), format: plotting.PNG, w: rp.log}
		if err := sub.ppo(pair, rp.b.T2At, 4); err != nil {
			return nil, err
		}
		fw.wrote, fw.failed = append(fw.wrote, sub.wrote...), append(fw.failed, sub.failed...)
	}
	return fw.wrote, fw.result()
}

// figureRel is a figure's path relative to the figures folder: its name, under pairFigures for
// the token-vs-eos run figures.
func figureRel(path string) string {
	if filepath.Base(filepath.Dir(path)) == pairFigures {
		return filepath.Join(pairFigures, filepath.Base(path))
	}
	return filepath.Base(path)
}

func nanToZero(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return x
}

// lengthFits fits coherent reward against response length in the last rollout of the seed-1
// eos and token runs at the T2 N (the length discussion quotes them).
func (rp *reproduction) lengthFits() []lengthFit {
	var fits []lengthFit
	res := rp.results[rp.b.T2N]
	if len(res) == 0 {
		return nil
	}
	for _, mode := range []string{srppo.PlaceEOS, srppo.PlaceToken} {
		dir, ok := res[0].dirs[mode]
		if !ok {
			continue
		}
		r, _, err := lastRollout(dir)
		if err != nil || r == nil {
			continue
		}
		lengths, rewards, err := plotting.RewardLengthFromRollout(r)
		if err != nil {
			continue
		}
		if slope, _, corr, err := plotting.LinearFit(lengths, rewards); err == nil {
			fits = append(fits, lengthFit{Mode: mode, Slope: slope, Corr: corr})
		}
	}
	return fits
}

// lengthDiscussion reads T2 and the reward-length fits of seed 1: how far each placement moved
// the mean rollout length, against the zero-reward control, and how the coherent reward grows
// with length.
func lengthDiscussion(t *tables) string {
	bd := t.Budget
	first, last := bd.T2At[0], bd.T2At[len(bd.T2At)-1]
	var parts []string
	control := math.NaN()
	for _, r := range t.T2 {
		l0, l1, pct := lengthChange(r, first, last)
		parts = append(parts, fmt.Sprintf("%s %.2f → %.2f (%+.0f %%)", r.Name, l0, l1, pct))
		if r.Name == srppo.PlaceZero {
			control = pct
		}
	}
	s := fmt.Sprintf("Length (T2, N = %d, mean rollout length at iterations %d → %d, %d-seed means): %s.", bd.T2N, first, last, bd.Seeds, strings.Join(parts, "; "))
	if !math.IsNaN(control) {
		s += fmt.Sprintf(" The zero-reward control (KL penalty only) moves it %+.0f %%: changes of that size are the noise of rollout length between iterations, not an effect of the reward.", control)
	}
	var fits []string
	allPositive := true
	for _, f := range t.LengthFits {
		fits = append(fits, fmt.Sprintf("%s %+.2f nats per token (correlation %.2f)", f.Mode, f.Slope, f.Corr))
		allPositive = allPositive && f.Slope > 0
	}
	switch {
	case len(fits) > 0 && allPositive:
		s += " In the last rollout (seed 1) the coherent reward r = ΣΔ_t grows with response length — " + strings.Join(fits, ", ") +
			": extra tokens have Δ_t > 0 on average (π_pt finds them less likely than π_sft does), so even the whole reward at <eos> pays for length; a per-token placement pays for it at every step."
	case len(fits) > 0:
		s += " Coherent reward against response length in the last rollout (seed 1): " + strings.Join(fits, ", ") + "."
	}
	return s
}

// invocationsFile (under OUT) lists every invocation of reproduce on OUT: when, what command and
// which build, so that RESULTS.md can say which builds computed its cached stages.
const invocationsFile = "invocations.jsonl"

type invocation struct {
	Started string `json:"started"`
	Command string `json:"command"`
	Build   string `json:"build"`
	// Resumed is set when OUT already held finished work from an earlier invocation.
	Resumed bool `json:"resumed"`
}

// recordInvocation appends this invocation to OUT/invocations.jsonl and keeps the list.
func (rp *reproduction) recordInvocation() error {
	path := filepath.Join(rp.out, invocationsFile)
	if data, err := os.ReadFile(path); err == nil {
		for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var inv invocation
			if err := json.Unmarshal([]byte(line), &inv); err != nil {
				return fmt.Errorf("%s:%d: %w", path, i+1, err)
			}
			rp.invocations = append(rp.invocations, inv)
		}
	}
	inv := invocation{Started: rp.started.UTC().Format(time.RFC3339), Command: rp.tables.Command, Build: buildStamp(), Resumed: rp.previousTotal > 0 || len(rp.tables.Seconds) > 0}
	rp.invocations = append(rp.invocations, inv)
	rp.tables.Invocations = rp.invocations
	line, err := json.Marshal(inv)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// buildStamp names the commit and build of this binary (from the Go build information).
func buildStamp() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown build"
	}
	rev, dirty, exp := "unknown commit (built without VCS stamping)", "", ""
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = "commit " + s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			if s.Value == "true" {
				dirty = " with uncommitted changes"
			}
		case "GOEXPERIMENT":
			exp = " GOEXPERIMENT=" + s.Value
		}
	}
	return fmt.Sprintf("%s%s, %s%s, %s/%s, %d CPUs", rev, dirty, info.GoVersion, exp, runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
}

// writeResults writes dir/RESULTS.md: how the run was made, the pre-registered criteria as
// measured, a discussion derived from the numbers, the figures and every table.
func (rp *reproduction) writeResults(dir string) error {
	return datasets.WriteFileAtomic(filepath.Join(dir, resultsFile), []byte(renderResults(&rp.tables, figuresDir)))
}

// publishedNames are the file and figure folder a budget publishes: RESULTS.md and results/ for
// the grid (the study behind the repository's RESULTS.md), RESULTS_<budget>.md and
// results_<budget>/ for the others, so that publishing one never overwrites another.
func publishedNames(budget string) (file, figures string) {
	if budget == "grid" {
		return resultsFile, publishedFigures
	}
	return "RESULTS_" + budget + ".md", publishedFigures + "_" + budget
}

// publishResults writes RESULTS.md into the -publish directory with its figures under results/.
func (rp *reproduction) publishResults(figures []string) error {
	name, figRel := publishedNames(rp.budgetName)
	figDir := filepath.Join(rp.publish, figRel)
	if err := os.MkdirAll(figDir, 0o755); err != nil {
		return err
	}
	for _, f := range figures {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		dst := filepath.Join(figDir, figureRel(f))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := plotting.WriteFile(dst, data); err != nil {
			return err
		}
	}
	// tables.json beside the figures records everything RESULTS.md says (the golden test
	// re-renders the published ones from it).
	if err := srppo.WriteJSON(filepath.Join(figDir, "tables.json"), rp.tables); err != nil {
		return err
	}
	path := filepath.Join(rp.publish, name)
	if err := datasets.WriteFileAtomic(path, []byte(renderResults(&rp.tables, figRel))); err != nil {
		return err
	}
	rp.logf("published %s and %d figures in %s", path, len(figures), figDir)
	return nil
}

// renderResults is RESULTS.md, rendered from what tables.json records alone; figRel is the
// folder, relative to RESULTS.md, that holds the figures.
func renderResults(t *tables, figRel string) string {
	var b strings.Builder
	bd := t.Budget
	fmt.Fprintf(&b, "# Results: SRPPO at toy scale\n\n")
	fmt.Fprintf(&b, "Generated by `%s` (%s); do not edit by hand — rerun the command, which reuses the stages cached under its `-out` directory. ", t.Command, t.Build)
	fmt.Fprintf(&b, "Base model: %s. Design: [docs/design.md](docs/design.md) §4, §6.\n\n", t.BaseNote)
	b.WriteString("Invocations on the output directory (stages are computed by the first invocation that reaches them):\n\n")
	if len(t.Invocations) > 0 && t.Invocations[0].Resumed {
		b.WriteString("- earlier invocation(s) before invocations were recorded\n")
	}
	for _, inv := range t.Invocations {
		fmt.Fprintf(&b, "- %s `%s` (%s)\n", inv.Started, inv.Command, inv.Build)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "Budget: N ∈ %v, %d seed(s), %d PPO iterations per run of %d prompts × %d samples, greedy evaluation on %d items per split (%s), T3 on %d items per split with K = %d samples, SFT for %d epochs (at least %d steps).",
		bd.Ns, bd.Seeds, bd.Iterations, bd.RolloutPrompt, t.Samples, bd.EvalPerSplit, strings.Join(t.Splits, ", "), bd.T3Items, bd.T3K, bd.SFTEpochs, bd.SFTMinSteps)
	var stages float64
	for k, v := range t.Seconds {
		if k != "total" {
			stages += v
		}
	}
	fmt.Fprintf(&b, " Wall time: %s in all invocations (%s in finished stages).\n\n", fmtDuration(t.Seconds["total"]), fmtDuration(stages))

	a, bb := criterionA(t.T1, bd.Ns, t.Splits), criterionB(t.T2, bd.T2At)
	b.WriteString("## Pre-registered criteria (design §6)\n\n")
	fmt.Fprintf(&b, "**(a)** SRPPO-eos beats SFT by ≥ 5 EM points out of domain at N ≤ 64, within 2 points in domain, and the gap narrows at N = 1024: %s.\n\n", a.label())
	for _, l := range a.Lines {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	fmt.Fprintf(&b, "\n**(b)** `token` moves mean length ≥ 25 %% away from SFT (or truncates > 20 %%) while `eos` stays within ±10 %%: %s.", bb.label())
	if last := bd.T2At[len(bd.T2At)-1]; last < 200 {
		fmt.Fprintf(&b, " The design reads (b) at iteration 200; this budget stops at iteration %d, so it is read there.", last)
	}
	b.WriteString("\n\n")
	for _, l := range bb.Lines {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	b.WriteString("\n## Discussion\n\n")
	for _, p := range discussion(t) {
		b.WriteString(p + "\n\n")
	}
	b.WriteString("## Figures\n\n")
	for _, rel := range t.Figures {
		rel = filepath.ToSlash(rel)
		fmt.Fprintf(&b, "![%s](%s/%s)\n\n", strings.TrimSuffix(rel, filepath.Ext(rel)), figRel, rel)
	}
	b.WriteString(strings.Replace(renderTables(t), "# SRPPO reproduction", "## Tables — SRPPO reproduction", 1))
	return b.String()
}

func fmtDuration(seconds float64) string {
	return (time.Duration(seconds) * time.Second).Round(time.Second).String()
}

// discussion states in words what the tables show: whether SRPPO helps over SFT, what T3 says
// about the coherent reward, how the placements move length, and what PPO on the true reward does.
func discussion(t *tables) []string {
	var out []string
	t1 := t.T1
	for _, n := range t.Budget.Ns {
		var parts []string
		for _, s := range t.Splits {
			sft, eos := cellMean(t1, fmt.Sprintf("N=%d SFT", n), s+" EM"), cellMean(t1, fmt.Sprintf("N=%d SRPPO-eos", n), s+" EM")
			part := fmt.Sprintf("%s %.1f → %.1f", s, 100*sft, 100*eos)
			if orc := cellMean(t1, fmt.Sprintf("N=%d oracle-PPO", n), s+" EM"); !math.IsNaN(orc) {
				part += fmt.Sprintf(" (oracle-PPO %.1f)", 100*orc)
			}
			parts = append(parts, part)
		}
		out = append(out, fmt.Sprintf("N = %d: exact match SFT → SRPPO-eos, %s.", n, strings.Join(parts, "; ")))
	}
	// Epoch selection: PPO starts from the epoch with the lowest held-out loss ("SFT"); say so
	// when the last epoch ("SFT-long") is much better in domain.
	for _, n := range t.Budget.Ns {
		id := t.Splits[0] + " EM"
		best, long := cellMean(t1, fmt.Sprintf("N=%d SFT", n), id), cellMean(t1, fmt.Sprintf("N=%d SFT-long", n), id)
		if long-best >= 0.10 {
			out = append(out, fmt.Sprintf("N = %d: the epoch with the lowest held-out loss (SFT, which PPO starts from) reaches %s %.1f while the last epoch (SFT-long) reaches %.1f, with mean answer length %.2f vs %.2f tokens: with this few demonstrations the held-out loss picks an under-trained model, and every PPO row at this N starts from it.",
				n, id, 100*best, 100*long, cellMean(t1, fmt.Sprintf("N=%d SFT", n), "length"), cellMean(t1, fmt.Sprintf("N=%d SFT-long", n), "length")))
		}
	}
	// Does PPO work at all when the reward is right? oracle-PPO vs SFT out of domain.
	for _, n := range t.Budget.Ns {
		var gains []string
		for _, s := range t.Splits[1:] {
			g := 100 * (cellMean(t1, fmt.Sprintf("N=%d oracle-PPO", n), s+" EM") - cellMean(t1, fmt.Sprintf("N=%d SFT", n), s+" EM"))
			if !math.IsNaN(g) {
				gains = append(gains, fmt.Sprintf("%s %+.1f", s, g))
			}
		}
		if len(gains) > 0 {
			out = append(out, fmt.Sprintf("N = %d, PPO on the true reward (oracle-PPO) vs SFT out of domain: %s points — what the same PPO does when the reward ranks answers correctly.", n, strings.Join(gains, ", ")))
		}
	}
	// T3: does reranking SFT samples by r beat pass@1 (by more than rounding), and how often does
	// r rank a correct answer above a wrong one?
	const tie = 0.005
	var beats, ties, loses []string
	for _, r := range t.T3 {
		if len(r.Order) < 4 {
			continue
		}
		p1, bk, pw := float64(r.Cells[r.Order[0]].Mean), float64(r.Cells[r.Order[2]].Mean), float64(r.Cells["pairwise acc"].Mean)
		s := fmt.Sprintf("%s (pass@1 %.3f, %s %.3f, pairwise accuracy %.2f)", r.Name, p1, r.Order[2], bk, pw)
		switch {
		case bk > p1+tie:
			beats = append(beats, s)
		case bk < p1-tie:
			loses = append(loses, s)
		default:
			ties = append(ties, s)
		}
	}
	if len(loses) > 0 {
		out = append(out, "T3: reranking SFT samples by the coherent reward r = log π_sft − log π_pt is worse than SFT's own pass@1 — r prefers wrong answers, so PPO on r has nothing to distil and moves the policy away from correct answers — at "+strings.Join(loses, "; ")+".")
	}
	if len(ties) > 0 {
		out = append(out, "Reranking by r ties with pass@1 (no signal to distil) at "+strings.Join(ties, "; ")+".")
	}
	if len(beats) > 0 {
		out = append(out, "Reranking by r beats pass@1 (signal PPO could distil) at "+strings.Join(beats, "; ")+".")
	}
	if len(t.T2) > 0 {
		out = append(out, lengthDiscussion(t))
	}
	out = append(out, fmt.Sprintf("Scale: a %d-layer d=%d model, %d PPO iterations per run (the design asks for 200) — short runs of a toy model; read the differences against the seed-to-seed sd.", t.Model.Layers, t.Model.DModel, t.Budget.Iterations))
	return out
}
