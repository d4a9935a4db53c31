package study

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/srppo"
)

// FormatEval formats an evaluation as text tables: EM, EOS %, truncated % and mean length per
// split (and overall), and with byOpLen the EM by operation and argument length where items
// have them.
func FormatEval(rep *srppo.EvalReport, byOpLen bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s format, %d items\n", rep.Format, len(rep.Items))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "split\tn\tEM\tEOS %\ttrunc %\tmean len\t")
	for _, g := range append(slices.Clone(rep.BySplit), rep.Overall) {
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.1f\t%.1f\t%.2f\t\n", g.Group, g.N, g.EM, 100*g.EOSRate, 100*g.TruncRate, g.MeanLen)
	}
	tw.Flush()
	if !byOpLen || len(rep.ByOpLen) == 0 {
		return b.String()
	}
	var ops []string
	var lens []int
	em := map[string]float64{}
	for _, g := range rep.ByOpLen {
		op, l, _ := strings.Cut(g.Group, "/")
		n, _ := strconv.Atoi(l)
		if !slices.Contains(ops, op) {
			ops = append(ops, op)
		}
		if !slices.Contains(lens, n) {
			lens = append(lens, n)
		}
		em[g.Group] = g.EM
	}
	slices.Sort(lens)
	fmt.Fprintln(&b, "EM by operation and argument length")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "op\t")
	for _, l := range lens {
		fmt.Fprintf(tw, "L=%d\t", l)
	}
	fmt.Fprintln(tw, "all\t")
	for _, op := range ops {
		fmt.Fprintf(tw, "%s\t", op)
		for _, l := range lens {
			if v, ok := em[fmt.Sprintf("%s/%d", op, l)]; ok {
				fmt.Fprintf(tw, "%.2f\t", v)
			} else {
				fmt.Fprint(tw, "–\t")
			}
		}
		g, _ := srppo.Group(rep.ByOp, op)
		fmt.Fprintf(tw, "%.2f\t\n", g.EM)
	}
	tw.Flush()
	return b.String()
}

// FormatRollout lists the first n rows of a rollout (all when n ≤ 0): prompt, response, whether
// it stopped and is correct, and — once scored — the coherent reward Σ Δ, the KL to the
// reference and the summed placed reward.
func FormatRollout(r *srppo.Rollout, n int) string {
	var b strings.Builder
	rows := r.Rows
	if n > 0 && n < len(rows) {
		rows = rows[:n]
	}
	fmt.Fprintf(&b, "iteration %d, stage %s, %d rows (mode %s)\n", r.Iteration, r.Stage, len(r.Rows), r.Config.Mode)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "split\tprompt\tresponse\tlen\tcorrect")
	scored := r.Stage != srppo.StageRollout
	if scored {
		fmt.Fprint(tw, "\tΣΔ\tΣKL\tΣr")
	}
	fmt.Fprintln(tw)
	for _, row := range rows {
		correct := "?"
		if row.Correct != nil {
			correct = map[bool]string{true: "yes", false: "no"}[*row.Correct]
		}
		resp := row.Text
		if row.Truncated {
			resp += " …(truncated)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s", row.Split, row.Prompt, resp, len(row.Tokens), correct)
		if scored {
			fmt.Fprintf(tw, "\t%.2f\t%.3f\t%.2f", row.Coherent, noNegZero(sum32(row.KL), 3), sum32(row.Rewards))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	return b.String()
}

// noNegZero maps values that print as −0 with the given decimals to 0.
func noNegZero(x float64, decimals int) float64 {
	if math.Abs(x) < 0.5*math.Pow(10, -float64(decimals)) {
		return 0
	}
	return x
}

func sum32(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	return s
}

// FormatMetrics formats one iteration's metrics: reward, KL, length, EOS and truncation, the
// update statistics and the sanity checks.
func FormatMetrics(m srppo.Metrics) string {
	var b strings.Builder
	fmt.Fprintf(&b, "iteration %d: reward ΣΔ %.3f ± %.3f, Δ content %.3f / Δ EOS %.3f, KL %.4f, length %.2f ± %.2f, EOS %.0f%%, truncated %.0f%%, correct %.0f%%\n",
		m.Iteration, m.Reward, m.RewardStd, float64(m.DeltaContent), float64(m.DeltaEOS), m.KL, m.Length, m.LengthStd, m.EOSPct, m.TruncPct, float64(m.Correct))
	fmt.Fprintf(&b, "update: %d minibatches, policy loss %.4f, value loss %.4f, clip fraction %.3f, approx-KL %.2e, entropy %.3f, explained variance %.3f\n",
		m.Minibatches, m.PolicyLoss, m.ValueLoss, m.ClipFrac, m.ApproxKL, m.Entropy, float64(m.ExplainedVar))
	fmt.Fprintf(&b, "sanity: first-minibatch ratio %.6f (want 1), approx-KL %.1e (want 0), recomputed log-probs within %.1e of the sampled ones", m.FirstRatio, m.FirstKL, m.LogpMaxDiff)
	if len(m.Sanity) == 0 {
		b.WriteString(": ok\n")
	} else {
		fmt.Fprintf(&b, "\nSANITY FAILURES: %s\n", strings.Join(m.Sanity, "; "))
	}
	return b.String()
}

// FormatLengthDynamics formats table T2 of design §6 for runs (the metrics of each run, named by
// names): at each of the given iterations (those a run has) mean length ± sd, truncated % and
// EOS %, and at each run's last iteration the KL to π_sft, the mean reward, the rollouts'
// correct % and the latest greedy EM per split.
func FormatLengthDynamics(names []string, runs [][]srppo.Metrics, iterations []int) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\titer\tlength\ttrunc %\tEOS %\t")
	for ri, ms := range runs {
		for _, it := range iterations {
			i := slices.IndexFunc(ms, func(m srppo.Metrics) bool { return m.Iteration == it })
			if i < 0 {
				continue
			}
			m := ms[i]
			fmt.Fprintf(tw, "%s\t%d\t%.2f ± %.2f\t%.1f\t%.1f\t\n", names[ri], it, m.Length, m.LengthStd, m.TruncPct, m.EOSPct)
		}
	}
	tw.Flush()
	fmt.Fprintln(&b)
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\tlast iter\tKL to SFT\treward ΣΔ\tcorrect %\tgreedy EM\t")
	for ri, ms := range runs {
		if len(ms) == 0 {
			continue
		}
		m := ms[len(ms)-1]
		em := "–"
		for i := len(ms) - 1; i >= 0; i-- {
			if e := ms[i].EvalEM; len(e) > 0 {
				var parts []string
				for _, k := range slices.Sorted(maps.Keys(e)) {
					parts = append(parts, fmt.Sprintf("%s %.2f", k, e[k]))
				}
				em = fmt.Sprintf("%s (iter %d)", strings.Join(parts, ", "), ms[i].Iteration)
				break
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%.4f\t%.3f\t%.1f\t%s\t\n", names[ri], m.Iteration, m.KL, m.Reward, float64(m.Correct), em)
	}
	tw.Flush()
	return b.String()
}

// FormatDiagnostics formats table T3 of design §6 (DiagnoseReward): per split, SFT pass@1 and
// pass@K of temperature-1 samples, best-of-K reranked by the coherent reward r, the pairwise
// accuracy of r(correct) > r(wrong), and the mean Δ on content tokens and on <eos>.
func FormatDiagnostics(ds []srppo.RewardDiagnostics) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	k := 0
	if len(ds) > 0 {
		k = ds[0].K
	}
	fmt.Fprintf(tw, "split\titems\tpass@1\tpass@%d\tbest-of-%d by r\tP(r correct > r wrong)\tpairs\tΔ content\tΔ <eos>\t\n", k, k)
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%.3f\t%.3f\t\n", d.Split, d.Items, d.Pass1, d.PassK, d.BestOfK,
			float64(d.PairwiseAcc), d.Pairs, float64(d.DeltaContent), float64(d.DeltaEOS))
	}
	tw.Flush()
	return b.String()
}

// FormatWorld summarises a generated world: vocabulary, corpus size and mix, items per split and
// operation, and a few examples of each kind of record.
func FormatWorld(d *datasets.WorldData) string {
	var b strings.Builder
	w := d.World
	fmt.Fprintf(&b, "vocabulary (%d words): %s\n\n", d.Tokenizer.VocabSize(), strings.Join(d.Tokenizer.Words(), " "))
	var tokens, facts, noise, chat int
	for _, doc := range d.Corpus {
		words := strings.Fields(doc.Text)
		tokens += len(words) + 2
		switch {
		case words[0] == datasets.QToken:
			chat++
		case words[len(words)-1] == datasets.DocStop:
			facts++
		default:
			noise++
		}
	}
	fmt.Fprintf(&b, "corpus: %d documents, %d tokens with <bos>/<eos>: %d fact documents, %d noise, %d chat noise\n",
		len(d.Corpus), tokens, facts, noise, chat)
	fmt.Fprintf(&b, "demonstrations: nested sets of %v (in-domain %s, L in %v); %d held out\n",
		w.DemoSizes, strings.Join(w.InDomainOps, " "), w.TrainLen, len(d.HeldOut))
	count := map[[2]string]int{}
	pool := map[string]int{}
	for _, it := range d.Eval {
		count[[2]string{it.Split, it.Op}]++
	}
	for _, p := range d.Prompts {
		pool[p.Split]++
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(&b)
	fmt.Fprintln(tw, "split\toperations\tL\teval items\tPPO pool\t")
	for _, s := range []struct {
		name string
		ops  []string
		l    [2]int
	}{{datasets.SplitID, w.InDomainOps, w.TrainLen}, {datasets.SplitOODOp, w.OODOps, w.TrainLen}, {datasets.SplitOODLen, w.InDomainOps, w.OODLen}} {
		n := 0
		for _, op := range s.ops {
			n += count[[2]string{s.name, op}]
		}
		fmt.Fprintf(tw, "%s\t%s\t%d–%d\t%d\t%d\t\n", s.name, strings.Join(s.ops, " "), s.l[0], s.l[1], n, pool[s.name])
	}
	tw.Flush()
	fmt.Fprintln(&b, "\nexamples")
	for i := 0; i < 2 && i < len(d.Corpus); i++ {
		fmt.Fprintf(&b, "  corpus:  %s\n", cut(d.Corpus[i].Text, 100))
	}
	if demos := d.Demos[w.DemoSizes[0]]; len(demos) > 0 {
		for _, dm := range demos[:min(3, len(demos))] {
			fmt.Fprintf(&b, "  demo:    %s  →  %s\n", datasets.ChatPrompt(dm.Prompt), datasets.ChatResponse(dm.Response))
		}
	}
	seen := map[string]bool{}
	for _, it := range d.Eval {
		if !seen[it.Split] {
			seen[it.Split] = true
			fmt.Fprintf(&b, "  eval %-8s %s  →  %s\n", it.Split+":", it.Prompt, it.Answer)
		}
	}
	return b.String()
}

func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
