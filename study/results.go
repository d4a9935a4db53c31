package study

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/gosrppo/gosrppo/internal/atomicfile"
	"github.com/gosrppo/gosrppo/plotting"
	"github.com/gosrppo/gosrppo/srppo"
)

// lengthDiscussion reads T2 and the reward-length fits of seed 1: how far each placement moved
// the mean rollout length, against the zero-reward control, and how the coherent reward grows
// with length.
func lengthDiscussion(t *Tables) string {
	bd := t.Budget
	first, last := bd.T2At[0], bd.T2At[len(bd.T2At)-1]
	var parts []string
	control := math.NaN()
	for _, r := range t.T2 {
		l0, l1, pct := lengthChange(r, first, last)
		parts = append(parts, fmt.Sprintf("%s %.2f → %.2f (%+.0f %%)", r.Name, l0, l1, pct))
		if r.Key.Method == MethodZero {
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

// Invocation is one invocation on OUT: when, what command and which build, so that RESULTS.md
// can say which builds computed its cached stages.
type Invocation struct {
	Started string `json:"started"`
	Command string `json:"command"`
	Build   string `json:"build"`
	// Resumed is set when OUT already held finished work from an earlier invocation.
	Resumed bool `json:"resumed"`
}

// invocationRecord is the file OUT/invocations/<started>-<host>-<pid>.json: one per invocation,
// so that workers on several hosts never append to one file, with the invocation's wall time so
// far (rewritten after each stage it computes and at its end).
type invocationRecord struct {
	Invocation
	Seconds float64 `json:"seconds"`
}

// recordInvocation writes this invocation's file and lists every invocation on OUT (the
// files, and the lines of the invocations.jsonl of earlier versions) sorted by start time and
// command.
func (s *Study) recordInvocation() error {
	legacy := filepath.Join(s.ws.Dir, InvocationsFile)
	if data, err := os.ReadFile(legacy); err == nil {
		for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var inv Invocation
			if err := json.Unmarshal([]byte(line), &inv); err != nil {
				return fmt.Errorf("%s:%d: %w", legacy, i+1, err)
			}
			s.tables.Invocations = append(s.tables.Invocations, inv)
		}
	}
	recs, err := s.invocationRecords()
	if err != nil {
		return err
	}
	for _, r := range recs {
		s.tables.Invocations = append(s.tables.Invocations, r.Invocation)
	}
	inv := Invocation{Started: s.started.UTC().Format(time.RFC3339), Command: s.tables.Command, Build: s.tables.Build, Resumed: s.previousTotal > 0 || len(s.tables.Seconds) > 0}
	s.tables.Invocations = append(s.tables.Invocations, inv)
	slices.SortStableFunc(s.tables.Invocations, func(a, b Invocation) int {
		return cmp.Or(cmp.Compare(a.Started, b.Started), cmp.Compare(a.Command, b.Command))
	})
	host, _ := os.Hostname()
	name := fmt.Sprintf("%s-%s-%d.json", s.started.UTC().Format("20060102T150405.000000000Z"), strings.ReplaceAll(host, string(filepath.Separator), "_"), os.Getpid())
	s.invocation, s.inv = filepath.Join(s.ws.Dir, InvocationsDir, name), inv
	return srppo.WriteJSON(s.invocation, invocationRecord{Invocation: inv})
}

// invocationRecords reads OUT/invocations/*.json other than this invocation's, in file-name
// (start time) order.
func (s *Study) invocationRecords() ([]invocationRecord, error) {
	files, err := filepath.Glob(filepath.Join(s.ws.Dir, InvocationsDir, "*.json"))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	var recs []invocationRecord
	for _, f := range files {
		if f == s.invocation {
			continue
		}
		var r invocationRecord
		if err := srppo.ReadJSON(f, &r); err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// updateInvocation rewrites this invocation's file with its wall time so far.
func (s *Study) updateInvocation() {
	if s.invocation == "" {
		return
	}
	if err := srppo.WriteJSON(s.invocation, invocationRecord{Invocation: s.inv, Seconds: time.Since(s.started).Seconds()}); err != nil {
		s.logf("could not update %s: %v", s.invocation, err)
	}
}

// totalSeconds is the study's wall time: the sum of the wall times of every recorded
// invocation on OUT (each worker of a sharded run counts its own), this one's so far, and
// what tables.json said before invocations recorded their times.
func (s *Study) totalSeconds() float64 {
	total := time.Since(s.started).Seconds()
	recs, _ := s.invocationRecords()
	for _, r := range recs {
		total += r.Seconds
	}
	if _, err := os.Stat(filepath.Join(s.ws.Dir, InvocationsFile)); err == nil && len(recs) == 0 {
		total += s.previousTotal
	}
	return total
}

// BuildStamp names the commit and build of this binary: from the Go build information, or
// from git in the working directory when the build has no VCS stamp (go run, -buildvcs=false).
func BuildStamp() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown build"
	}
	rev, dirty, exp := "", "", ""
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
	if rev == "" {
		rev, dirty = gitCommit()
	}
	return fmt.Sprintf("%s%s, %s%s, %s/%s, %d CPUs", rev, dirty, info.GoVersion, exp, runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
}

// gitCommit reads the commit from git in the working directory, for builds without a VCS stamp
// (go run, GOFLAGS=-buildvcs=false, GoNB kernels).
func gitCommit() (rev, dirty string) {
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown commit (no VCS stamp in the build and no git checkout here)", ""
	}
	rev = "commit " + string(bytes.TrimSpace(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		dirty = " with uncommitted changes"
	}
	return rev, dirty
}

// PublishedNames are the file and figure folder a budget publishes: RESULTS.md and results/ for
// the grid (the study behind the repository's RESULTS.md), RESULTS_<budget>.md and
// results_<budget>/ for the others, so that publishing one never overwrites another.
func PublishedNames(budget string) (file, figures string) {
	if budget == "grid" {
		return ResultsFile, PublishedFigures
	}
	return "RESULTS_" + budget + ".md", PublishedFigures + "_" + budget
}

// publish writes RESULTS.md into the -publish directory with its figures under results/.
func (s *Study) publish(figures []string) error {
	return s.publishFiles(figures, TablesFile, s.tables, func(figRel string) string {
		return RenderResults(&s.tables, figRel, DesignLink(s.ws.Publish))
	})
}

// publishFiles writes a write-up into the -publish directory (PublishedNames of the budget):
// the figures under its figures folder, the record it is rendered from beside them (the golden
// test re-renders the published files from it), and the file render returns for that folder.
func (s *Study) publishFiles(figures []string, recordName string, record any, render func(figRel string) string) error {
	name, figRel := PublishedNames(s.ws.BudgetName)
	figDir := filepath.Join(s.ws.Publish, figRel)
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
	if err := srppo.WriteJSON(filepath.Join(figDir, recordName), record); err != nil {
		return err
	}
	path := filepath.Join(s.ws.Publish, name)
	if err := atomicfile.WriteFile(path, []byte(render(figRel))); err != nil {
		return err
	}
	s.logf("published %s and %d figures in %s", path, len(figures), figDir)
	return nil
}

// RenderResults is RESULTS.md, rendered from what tables.json records alone; figRel is the
// folder, relative to RESULTS.md, that holds the figures.
//
// designLink is the path from RESULTS.md's folder to docs/design.md (DesignLink), or "" to name
// it without a link.
func RenderResults(t *Tables, figRel, designLink string) string {
	var b strings.Builder
	bd := t.Budget
	fmt.Fprintf(&b, "# Results: SRPPO at toy scale\n\n")
	fmt.Fprintf(&b, "Generated by `%s` (%s); do not edit by hand — rerun the command, which reuses the stages cached under its `-out` directory. ", t.Command, t.Build)
	fmt.Fprintf(&b, "Base model: %s. Design: %s §4, §6.\n\n", t.BaseNote, designRef(designLink))
	b.WriteString("Invocations on the output directory (stages are computed by the first invocation that reaches them):\n\n")
	if len(t.Invocations) > 0 && t.Invocations[0].Resumed {
		b.WriteString("- earlier invocation(s) before invocations were recorded\n")
	}
	for _, inv := range t.Invocations {
		fmt.Fprintf(&b, "- %s `%s` (%s)\n", inv.Started, inv.Command, inv.Build)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "Budget: N ∈ %v, %d seed(s), %d PPO iterations per run of %d prompts × %d samples, greedy evaluation on %d items per split (%s), T3 on %d items per split with K = %d samples, SFT for %d epochs or %d optimizer steps, whichever is longer (the step minimum sets the epochs at small N).",
		bd.Ns, bd.Seeds, bd.Iterations, bd.RolloutPrompt, t.Samples, bd.EvalPerSplit, strings.Join(t.Splits, ", "), bd.T3Items, bd.T3K, bd.SFTEpochs, bd.SFTMinSteps)
	var stages float64
	for k, v := range t.Seconds {
		if k != "total" {
			stages += v
		}
	}
	fmt.Fprintf(&b, " Wall time: %s in all invocations (%s in finished stages).\n\n", fmtDuration(t.Seconds["total"]), fmtDuration(stages))

	a, bb := Criteria(t)
	b.WriteString("## Pre-registered criteria (design §6)\n\n")
	fmt.Fprintf(&b, "**(a)** SRPPO-eos beats SFT by ≥ 5 EM points out of domain at N ≤ 64, within 2 points in domain, and the gap narrows at N = 1024: %s.\n\n", a.Label())
	for _, l := range a.Lines {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	fmt.Fprintf(&b, "\n**(b)** `token` moves mean length ≥ 25 %% away from SFT (or truncates > 20 %%) while `eos` stays within ±10 %%: %s.", bb.Label())
	if last := bd.T2At[len(bd.T2At)-1]; last < 200 {
		fmt.Fprintf(&b, " The design reads (b) at iteration 200; this budget stops at iteration %d, so it is read there.", last)
	}
	b.WriteString("\n\n")
	for _, l := range bb.Lines {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	writeDiscussionAndFigures(&b, discussion(t), t.Figures, figRel)
	b.WriteString(strings.Replace(FormatTables(t), "# SRPPO reproduction", "## Tables — SRPPO reproduction", 1))
	return b.String()
}

// designRef names docs/design.md in a write-up: a link when designLink (DesignLink) is known.
func designRef(designLink string) string {
	if designLink == "" {
		return "docs/design.md in the repository"
	}
	return fmt.Sprintf("[docs/design.md](%s)", filepath.ToSlash(designLink))
}

// writeDiscussionAndFigures writes a write-up's discussion paragraphs and its figures (paths
// relative to the figures folder figRel).
func writeDiscussionAndFigures(b *strings.Builder, paragraphs, figures []string, figRel string) {
	b.WriteString("\n## Discussion\n\n")
	for _, p := range paragraphs {
		b.WriteString(p + "\n\n")
	}
	b.WriteString("## Figures\n\n")
	for _, rel := range figures {
		rel = filepath.ToSlash(rel)
		fmt.Fprintf(b, "![%s](%s/%s)\n\n", strings.TrimSuffix(rel, filepath.Ext(rel)), figRel, rel)
	}
}

func fmtDuration(seconds float64) string {
	return (time.Duration(seconds) * time.Second).Round(time.Second).String()
}

// discussion states in words what the tables show: whether SRPPO helps over SFT, what T3 says
// about the coherent reward, how the placements move length, and what PPO on the true reward does.
func discussion(t *Tables) []string {
	var out []string
	t1 := t.T1
	em := func(n int, m Method, split string) float64 { return Find(t1, Key{N: n, Method: m}).Mean(EMCol(split)) }
	nEval := t.Budget.EvalPerSplit * t.Budget.Seeds
	for _, n := range t.Budget.Ns {
		var parts []string
		for _, s := range t.Splits {
			sft, eos := em(n, MethodSFT, s), em(n, MethodEOS, s)
			part := fmt.Sprintf("%s %.1f → %.1f (%s)", s, 100*sft, 100*eos, diffCI(eos, sft, nEval))
			if orc := em(n, MethodOracle, s); !math.IsNaN(orc) {
				part += fmt.Sprintf(" (oracle-PPO %.1f)", 100*orc)
			}
			parts = append(parts, part)
		}
		out = append(out, fmt.Sprintf("N = %d: exact match SFT → SRPPO-eos in points, with the change and its 95 %% confidence interval over %s: %s.", n, itemsSeeds(t.Budget.EvalPerSplit, t.Budget.Seeds), strings.Join(parts, "; ")))
	}
	// SFT and SFT-long are one model when the best held-out epoch was the last.
	for _, n := range t.Budget.Ns {
		if a, b := Find(t1, Key{N: n, Method: MethodSFT}), Find(t1, Key{N: n, Method: MethodSFTLong}); len(a.Cells) > 0 && sameCells(a, b) {
			out = append(out, fmt.Sprintf("N = %d: the SFT and SFT-long rows are identical: the epoch with the lowest held-out loss was the last one, so both are the same model.", n))
		}
	}
	// Epoch selection: PPO starts from the epoch with the lowest held-out loss ("SFT"); say so
	// when the last epoch ("SFT-long") is much better in domain.
	for _, n := range t.Budget.Ns {
		id := EMCol(t.Splits[0])
		sftRow, longRow := Find(t1, Key{N: n, Method: MethodSFT}), Find(t1, Key{N: n, Method: MethodSFTLong})
		best, long := sftRow.Mean(id), longRow.Mean(id)
		if long-best >= 0.10 {
			out = append(out, fmt.Sprintf("N = %d: the epoch with the lowest held-out loss (SFT, which PPO starts from) reaches %s %.1f while the last epoch (SFT-long) reaches %.1f, with mean answer length %.2f vs %.2f tokens: with this few demonstrations the held-out loss picks an under-trained model, and every PPO row at this N starts from it.",
				n, id, 100*best, 100*long, sftRow.Mean("length"), longRow.Mean("length")))
		}
	}
	// Does PPO work at all when the reward is right? oracle-PPO vs SFT out of domain.
	for _, n := range t.Budget.Ns {
		var gains []string
		for _, s := range t.Splits[1:] {
			g := 100 * (em(n, MethodOracle, s) - em(n, MethodSFT, s))
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
	// A difference counts only beyond its 95 % confidence interval over items × seeds: a few
	// items in 40 on one seed is noise, not a finding.
	nT3 := t.Budget.T3Items * t.Budget.Seeds
	var beats, ties, loses []string
	for _, r := range t.T3 {
		if len(r.Order) < 4 {
			continue
		}
		p1, bk, pw := float64(r.Cells[r.Order[0]].Mean), float64(r.Cells[r.Order[2]].Mean), float64(r.Cells["pairwise acc"].Mean)
		s := fmt.Sprintf("%s (pass@1 %.3f, %s %.3f: %s; pairwise accuracy %.2f)", r.Name, p1, r.Order[2], bk, diffCI(bk, p1, nT3), pw)
		half := ci95(bk, p1, nT3)
		switch {
		case bk-p1 > half:
			beats = append(beats, s)
		case bk-p1 < -half:
			loses = append(loses, s)
		default:
			ties = append(ties, s)
		}
	}
	t3n := fmt.Sprintf(" (changes in points with their 95 %% confidence intervals over %s)", itemsSeeds(t.Budget.T3Items, t.Budget.Seeds))
	if len(loses) > 0 {
		out = append(out, "T3: reranking SFT samples by the coherent reward r = log π_sft − log π_pt is worse than SFT's own pass@1 beyond the confidence interval — r ranks wrong answers above right ones often enough that PPO on r has nothing to distil"+t3n+" — at "+strings.Join(loses, "; ")+".")
	}
	if len(ties) > 0 {
		out = append(out, "Reranking by r is within the confidence interval of pass@1 (no clear signal to distil)"+t3n+" at "+strings.Join(ties, "; ")+".")
	}
	if len(beats) > 0 {
		out = append(out, "Reranking by r beats pass@1 beyond the confidence interval (signal PPO could distil)"+t3n+" at "+strings.Join(beats, "; ")+".")
	}
	if len(t.T2) > 0 {
		out = append(out, lengthDiscussion(t))
	}
	out = append(out, fmt.Sprintf("Scale: a %d-layer d=%d model, %d PPO iterations per run (the design asks for 200) — short runs of a toy model; read the differences against the seed-to-seed sd.", t.Model.Layers, t.Model.DModel, t.Budget.Iterations))
	return out
}

// ci95 is the half-width of a 95 % confidence interval of the difference of two rates, each
// measured on n items (normal approximation, the two treated as independent: conservative for
// the paired comparisons here, which share their items).
func ci95(a, b float64, n int) float64 {
	if n <= 0 || math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	return 1.96 * math.Sqrt((a*(1-a)+b*(1-b))/float64(n))
}

// diffCI prints a − b in points with its 95 % confidence interval, e.g. "−6.0 ± 4.8".
func diffCI(a, b float64, n int) string {
	return fmt.Sprintf("%+.1f ± %.1f", 100*(a-b), 100*ci95(a, b, n))
}

// itemsSeeds says what a confidence interval is over.
func itemsSeeds(items, seeds int) string {
	if seeds == 1 {
		return fmt.Sprintf("%d items per split, one seed", items)
	}
	return fmt.Sprintf("%d items per split × %d seeds", items, seeds)
}

// sameCells reports whether two rows have the same mean and sd in every column.
func sameCells(a, b Row) bool {
	if len(a.Cells) != len(b.Cells) {
		return false
	}
	for k, c := range a.Cells {
		d, ok := b.Cells[k]
		same := func(x, y srppo.Float) bool { return x == y || math.IsNaN(float64(x)) && math.IsNaN(float64(y)) }
		if !ok || !same(c.Mean, d.Mean) || !same(c.SD, d.SD) {
			return false
		}
	}
	return true
}

// DesignLink is the relative path from dir to the repository's docs/design.md: found in dir, or
// in the repository that holds the working directory; "" when neither has it (the link would be
// broken).
func DesignLink(dir string) string {
	const design = "docs/design.md"
	if _, err := os.Stat(filepath.Join(dir, design)); err == nil {
		return design
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for root := wd; ; root = filepath.Dir(root) {
		if _, err := os.Stat(filepath.Join(root, design)); err == nil {
			abs, err := filepath.Abs(dir)
			if err != nil {
				return ""
			}
			rel, err := filepath.Rel(abs, filepath.Join(root, design))
			if err != nil {
				return ""
			}
			return rel
		}
		if filepath.Dir(root) == root {
			return ""
		}
	}
}
