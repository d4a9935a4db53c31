package study

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// SweepResultsFile is the sweep's write-up in its OUT (published as RESULTS_<budget>.md), and
// SweepTablesFile the record it is rendered from.
const (
	SweepResultsFile = "RESULTS_sweep.md"
	SweepTablesFile  = "sweep.json"
)

// diffStat compares two rows on a column: the difference of the means, its standard error over
// seeds (sd²/n of each, the two runs' seeds treated as independent) and whether it counts as a
// finding: beyond 2 standard errors and at least minEffect. With one seed there is no standard
// error and nothing counts.
func diffStat(a, b Row, col string, minEffect float64) (diff, se float64, finding bool) {
	ca, cb := a.Cells[col], b.Cells[col]
	diff = float64(ca.Mean) - float64(cb.Mean)
	if ca.N < 2 || cb.N < 2 || math.IsNaN(diff) {
		return diff, math.NaN(), false
	}
	se = math.Sqrt(float64(ca.SD*ca.SD)/float64(ca.N) + float64(cb.SD*cb.SD)/float64(cb.N))
	return diff, se, math.Abs(diff) > 2*se && math.Abs(diff) >= minEffect
}

// seedMeans says what the criteria's numbers are means over.
func seedMeans(seeds int) string {
	if seeds == 1 {
		return "one seed"
	}
	return fmt.Sprintf("%d-seed means", seeds)
}

// withSE prints a difference with ± 2 standard errors, or says there is none (one seed).
func withSE(d, se float64, f string) string {
	if math.IsNaN(se) {
		return fmt.Sprintf(f+" (one seed: no standard error)", d)
	}
	return fmt.Sprintf(f+" ± "+strings.Replace(f, "%+", "%", 1)+" (2 SE)", d, 2*se)
}

// axisEffect says how the levels of an axis move a column against its first (default) level:
// the level with the largest change and whether any change is a finding.
func axisEffect(t *SweepAxisTable, col string, minEffect float64) (summary string, best int, finding bool) {
	var parts []string
	best = 0
	bestDiff := 0.0
	for i, r := range t.Rows {
		parts = append(parts, fmt.Sprintf("%s %s", r.Name, cellText(r, col, sweepCellFormat(col))))
		if i == 0 {
			continue
		}
		d, _, f := diffStat(r, t.Rows[0], col, minEffect)
		if f {
			finding = true
		}
		if math.Abs(d) > math.Abs(bestDiff) {
			best, bestDiff = i, d
		}
	}
	return strings.Join(parts, "; "), best, finding
}

// sweepDiscussion derives the discussion from the tables: for each hypothesis of design §6b, what
// the numbers say and whether they support it. A difference counts only beyond 2 standard errors
// over seeds and at least 2 EM points (0.05 of pairwise accuracy, 10 % of length).
func sweepDiscussion(st *SweepTables) []string {
	var out []string
	n := st.Budget.Seeds
	noise := fmt.Sprintf("(mean ± sd over %d seed(s); a difference counts beyond 2 standard errors and ≥ 2 points)", n)
	// gainLine reads a hypothesis that some level other than the default raises the
	// out-of-domain gain: supported by a level that raises it beyond the noise, rejected when
	// the only changes beyond the noise lower it.
	gainLine := func(name string, t *SweepAxisTable) string {
		sum, _, _ := axisEffect(t, GainOODCol, 2)
		lsum, _, lf := axisEffect(t, LenChangeCol, 10)
		up, down := -1, -1
		for i := 1; i < len(t.Rows); i++ {
			d, _, f := diffStat(t.Rows[i], t.Rows[0], GainOODCol, 2)
			switch {
			case f && d > 0 && (up < 0 || d > t.Rows[up].Mean(GainOODCol)-t.Rows[0].Mean(GainOODCol)):
				up = i
			case f && d < 0 && down < 0:
				down = i
			}
		}
		verdict := "no level moves the out-of-domain gain beyond the noise: **not supported** at this resolution"
		switch {
		case up >= 0:
			d, se, _ := diffStat(t.Rows[up], t.Rows[0], GainOODCol, 2)
			verdict = fmt.Sprintf("%s raises the out-of-domain gain by %+.1f ± %.1f points (2 SE) against %s: **supported**", t.Rows[up].Name, d, 2*se, t.Rows[0].Name)
		case down >= 0:
			d, se, _ := diffStat(t.Rows[down], t.Rows[0], GainOODCol, 2)
			verdict = fmt.Sprintf("no level raises it, and %s lowers it by %+.1f ± %.1f points (2 SE) against %s: **rejected**", t.Rows[down].Name, d, 2*se, t.Rows[0].Name)
		}
		lv := "no level changes the length drift beyond the noise"
		if lf {
			lv = "the length drift differs between levels beyond the noise"
		}
		return fmt.Sprintf("**%s.** Out-of-domain EM gain over SFT (Δ ood, points): %s — %s. Length change over the run: %s; %s.", name, sum, verdict, lsum, lv)
	}
	if t := st.Axis(AxisBeta); t != nil {
		out = append(out, gainLine("1. KL coefficient β", t))
	}
	if t := st.Axis(AxisShaping); t != nil {
		out = append(out, gainLine("2. Reward shaping", t)+" Over the long runs, criterion (d) is "+plainLabel(CriterionD(st))+".")
	}
	if t := st.Axis(AxisExposure); t != nil && len(st.Bases) == len(t.Rows) {
		out = append(out, exposureDiscussion(st, t))
	}
	if t := st.Axis(AxisSelection); t != nil {
		l := gainLine("4. Which SFT model is the target", t)
		var sft []string
		for _, r := range t.Rows {
			sft = append(sft, fmt.Sprintf("%s: SFT EM in domain %s, out of domain %s", r.Name, cellText(r, SFTIDCol, "%.3f"), cellText(r, SFTOODCol, "%.3f")))
		}
		out = append(out, l+" The starting points: "+strings.Join(sft, "; ")+".")
	}
	if t := st.Axis(AxisBeta); t != nil && len(t.Rows) > 0 {
		r := t.Rows[0]
		raw, same, det := r.Mean(PairOODCol), r.Mean(SameLenOODCol), r.Mean(DetrendOODCol)
		verdict := "**no content signal**: out of domain the reward does not rank a correct answer above a wrong one of the same prompt, with or without length"
		switch {
		case math.IsNaN(raw):
			verdict = "not measured (no pairs of a correct and a wrong sample)"
		case (same > 0.55 || det > 0.55) && raw <= 0.5:
			verdict = "**length masks a content signal**: compared at equal length or with the length trend removed, the reward prefers correct answers"
		case raw > 0.55:
			verdict = "**a content signal**: the reward prefers correct answers out of domain"
		}
		out = append(out, fmt.Sprintf("**5. Length vs content** (the default SFT model): pairwise accuracy out of domain raw %s, equal-length pairs only %s, length trend removed %s; Δ per content token %s nats, at `<eos>` %s — %s.",
			cellText(r, PairOODCol, "%.3f"), cellText(r, SameLenOODCol, "%.3f"), cellText(r, DetrendOODCol, "%.3f"), cellText(r, DeltaContCol, "%.2f"), cellText(r, DeltaEOSCol, "%.2f"), verdict))
	}
	if t := st.Axis(AxisGrid); t != nil {
		best := 0
		for i, r := range t.Rows {
			if r.Mean(GainOODCol) > t.Rows[best].Mean(GainOODCol) {
				best = i
			}
		}
		out = append(out, fmt.Sprintf("**β × chat exposure.** The largest out-of-domain gain of the grid is at %s: %s points (read on the eval splits; the configuration criterion (c) chooses is picked on validation).", t.Rows[best].Name, cellText(t.Rows[best], GainOODCol, "%+.1f")))
	}
	out = append(out, fmt.Sprintf("Scale and noise: a %d-layer d=%d model, N = %d demonstrations, %d seed(s) per configuration, %d evaluation items per split %s. Each hypothesis is read one factor at a time around the defaults; interactions other than β × exposure are not measured.",
		st.Model.Layers, st.Model.DModel, st.Budget.Sweep.N, n, st.Budget.EvalPerSplit, noise))
	return out
}

// exposureDiscussion reads hypothesis 3 along the variants with correct answers (the least
// against the most exposed, by zero-shot chat EM), and the wrong-answer control against its
// correct-answer twin (same documents and fraction): format without content.
func exposureDiscussion(st *SweepTables, t *SweepAxisTable) string {
	var pts []string
	lo, hi := -1, -1
	for i, r := range t.Rows {
		b := st.Bases[i]
		pts = append(pts, fmt.Sprintf("%s (chat EM %.3f): pairwise accuracy out of domain %s, Δ ood %s", b.Label, b.ChatAll, cellText(r, PairOODCol, "%.3f"), cellText(r, GainOODCol, "%+.1f")))
		if b.Exposure.Wrong > 0 {
			continue
		}
		if lo < 0 || b.ChatAll < st.Bases[lo].ChatAll {
			lo = i
		}
		if hi < 0 || b.ChatAll > st.Bases[hi].ChatAll {
			hi = i
		}
	}
	out := "**3. What π_pt knows of the chat format.** " + strings.Join(pts, "; ") + "."
	if lo >= 0 && hi >= 0 && hi != lo {
		first, last := t.Rows[lo], t.Rows[hi]
		dp, sep, fp := diffStat(last, first, PairOODCol, 0.05)
		dg, seg, fg := diffStat(last, first, GainOODCol, 2)
		verdict := "**not supported**: neither the reward's ranking nor SRPPO's gain moves beyond the noise along the axis"
		switch {
		case fp && dp > 0 && fg && dg > 0:
			verdict = "**supported**: with more exposure the reward ranks correct answers higher and SRPPO gains more"
		case fp && dp > 0:
			verdict = "**partly supported**: more exposure improves the reward's ranking, but SRPPO's gain does not follow beyond the noise"
		case fg && dg > 0:
			verdict = "**partly supported**: SRPPO gains more with more exposure, without a change in the ranking beyond the noise"
		case fp || fg:
			verdict = "**rejected in this direction**: more exposure makes things worse"
		}
		out += fmt.Sprintf(" Most (%s) vs least exposed (%s): pairwise accuracy %s, Δ ood %s points — %s.",
			st.Bases[hi].Label, st.Bases[lo].Label, withSE(dp, sep, "%+.3f"), withSE(dg, seg, "%+.1f"), verdict)
	}
	for i, b := range st.Bases {
		if b.Exposure.Wrong == 0 {
			continue
		}
		for j, twin := range st.Bases {
			e := twin.Exposure
			if e.Wrong == 0 && e.Docs == b.Exposure.Docs && e.Fraction == b.Exposure.Fraction {
				dp, sep, _ := diffStat(t.Rows[i], t.Rows[j], PairOODCol, 0.05)
				dg, seg, _ := diffStat(t.Rows[i], t.Rows[j], GainOODCol, 2)
				out += fmt.Sprintf(" Control: the same exposure with wrong answers (%s, chat EM %.3f) against correct ones: pairwise accuracy %s, Δ ood %s points.",
					b.Label, b.ChatAll, withSE(dp, sep, "%+.3f"), withSE(dg, seg, "%+.1f"))
			}
		}
	}
	return out
}

// RenderSweepResults is RESULTS_sweep.md, rendered from what sweep.json records alone; figRel is
// the folder, relative to the file, that holds the figures, designLink the path to
// docs/design.md ("" to name it without a link).
func RenderSweepResults(st *SweepTables, figRel, designLink string) string {
	var b strings.Builder
	sp := st.Budget.Sweep
	b.WriteString("# When does the coherent reward work? The mechanism sweep\n\n")
	fmt.Fprintf(&b, "Generated by `%s` (%s); do not edit by hand — rerun the command, which reuses the stages cached under its `-out` directory. ", st.Command, st.Build)
	fmt.Fprintf(&b, "Base model: %s. Design and pre-registered hypotheses: %s §6b.\n\n", st.BaseNote, designRef(designLink))
	b.WriteString("Invocations on the output directory:\n\n")
	for _, inv := range st.Invocations {
		fmt.Fprintf(&b, "- %s `%s` (%s)\n", inv.Started, inv.Command, inv.Build)
	}
	var betas []string
	for _, x := range sp.Betas {
		betas = append(betas, strconv.FormatFloat(x, 'g', -1, 64))
	}
	fmt.Fprintf(&b, "\nBudget: N = %d, %d seed(s) per configuration; β ∈ {%s}; shapings %s (clip c = %g); SFT epoch by %s; %d π_pt variant(s); gain runs of %d PPO iterations, length runs of %d, each iteration %d prompts × %d samples; greedy evaluation on %d eval and %d validation items per split; T3 on %d items per split with K = %d.",
		sp.N, st.Budget.Seeds, strings.Join(betas, ", "), strings.Join(sp.Shapings, ", "), sp.Clip, strings.Join(sp.Selections, ", "), len(sp.Exposures),
		sp.GainIterations, sp.LengthIterations, st.Budget.RolloutPrompt, st.Samples, st.Budget.EvalPerSplit, sp.ValPerSplit, st.Budget.T3Items, st.Budget.T3K)
	var stages float64
	for k, v := range st.Seconds {
		if k != "total" {
			stages += v
		}
	}
	fmt.Fprintf(&b, " Wall time: %s in all invocations (%s in finished stages).\n\n", fmtDuration(st.Seconds["total"]), fmtDuration(stages))

	c, d := CriterionC(st), CriterionD(st)
	b.WriteString("## Pre-registered criteria (design §6b)\n\n")
	fmt.Fprintf(&b, "**(c)** a configuration chosen on validation beats SFT by ≥ 5 EM points out of domain at N ≤ 64 on the eval splits, within 2 points in domain (%s): %s.\n\n", seedMeans(st.Budget.Seeds), c.Label())
	for _, l := range c.Lines {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	fmt.Fprintf(&b, "\n**(d)** some shaping keeps `eos` within ±10 %% of SFT's length at the last iteration while `token` under the same shaping does not (%s): %s.\n\n", seedMeans(st.Budget.Seeds), d.Label())
	for _, l := range d.Lines {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	writeDiscussionAndFigures(&b, sweepDiscussion(st), st.Figures, figRel)
	b.WriteString(FormatSweepTables(st))
	return b.String()
}

// FormatSweepTables renders the π_pt variants and every axis table (the notebook prints them
// one at a time).
func FormatSweepTables(st *SweepTables) string {
	var b strings.Builder
	b.WriteString("## π_pt variants\n\n" + FormatBases(st) + "\n")
	b.WriteString("## Tables\n\n")
	b.WriteString(sweepColumnsNote + "\n\n")
	for _, t := range st.Axes {
		fmt.Fprintf(&b, "### %s\n\n%s\n", t.Axis.Varies, FormatSweepTable(t, st.Splits))
	}
	return b.String()
}

const sweepColumnsNote = "Cells are mean ± sd over seeds. Δ split: eval EM of the PPO policy minus that of the SFT model it started from, in points (same seed); val Δ: the same on the validation split, which chooses the configuration of criterion (c). len@0 / len@end: mean rollout length (tokens) at the first and last iteration; len Δ%: its change; trunc%@end: rollouts without `<eos>` at the last iteration. SFT EM: the starting model's eval EM. pair: T3's pairwise accuracy P(r(correct) > r(wrong)) over same-prompt pairs of the SFT model's samples (0.5 = no ranking); same-len: equal-length pairs only; detrended: r minus its least-squares length trend. Δ/content tok, Δ@eos: mean Δ_t = log π_sft − log π_pt per content token and at `<eos>` (nats)."
