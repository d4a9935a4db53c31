// Command report writes bench/REPORT.md from the outputs that bench/run.sh collects: the Go
// benchmark output of the plain and the GOEXPERIMENT=simd builds, the PyTorch reference's JSON,
// lscpu, the load samples and the pprof -top profiles. REPORT.md is generated: edit this file
// (or run.sh), never the report.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/gosrppo/gosrppo/bench"
)

// goResult is one benchmark line: name (e.g. "TrainStep/d128") and its metrics by unit.
type goResult struct {
	Workload, Size string
	N              int
	M              map[string]float64
}

var benchLine = regexp.MustCompile(`^Benchmark(\w+)/(\w+)-\d+\s+(\d+)\s+(.*)$`)

// parseGo reads `go test -bench` output; a later line for the same benchmark replaces an earlier one.
func parseGo(path string) (map[string]goResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]goResult{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[3])
		r := goResult{Workload: m[1], Size: m[2], N: n, M: map[string]float64{}}
		fields := strings.Fields(m[4])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err == nil {
				r.M[fields[i+1]] = v
			}
		}
		out[m[1]+"/"+m[2]] = r
	}
	return out, sc.Err()
}

type torchResult struct {
	Workload   string             `json:"workload"`
	Size       string             `json:"size"`
	Reps       int                `json:"reps"`
	SecMedian  float64            `json:"sec_median"`
	SecMin     float64            `json:"sec_min"`
	SecMax     float64            `json:"sec_max"`
	TokensPerS float64            `json:"tokens_per_s"`
	GFLOPs     float64            `json:"gflops"`
	FLOPs      float64            `json:"flops"`
	Warmup     bool               `json:"warmup"`
	StagesMS   map[string]float64 `json:"stages_ms"`
}

type torchOut struct {
	Torch   string          `json:"torch"`
	Threads int             `json:"threads"`
	Python  string          `json:"python"`
	BLAS    string          `json:"blas"`
	Params  map[string]int  `json:"params"`
	Results []torchResult   `json:"results"`
	Check   json.RawMessage `json:"check"`
}

// cpu is what lscpu says, and the fp32 peak derived from it.
type cpu struct {
	Model, Vendor, Family string
	Cores                 int
	MHz                   float64
	Lanes, Pipes          int
	Note                  string
}

func (c cpu) peakGFLOPs() float64 {
	return float64(c.Cores) * c.MHz / 1e3 * float64(2*c.Pipes*c.Lanes)
}

func parseCPU(lscpuPath, cpuinfoPath string) (cpu, error) {
	data, err := os.ReadFile(lscpuPath)
	if err != nil {
		return cpu{}, err
	}
	kv := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	c := cpu{Model: kv["Model name"], Vendor: kv["Vendor ID"], Family: kv["CPU family"], Pipes: 2}
	c.Cores, _ = strconv.Atoi(kv["CPU(s)"])
	if s := kv["CPU max MHz"]; s != "" {
		c.MHz, _ = strconv.ParseFloat(s, 64)
		c.Note = "frequency: lscpu's CPU max MHz"
	} else if info, err := os.ReadFile(cpuinfoPath); err == nil {
		for _, line := range strings.Split(string(info), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "cpu MHz" {
				c.MHz, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
				c.Note = "frequency: /proc/cpuinfo's cpu MHz (lscpu gives no max MHz in this VM; boost, if any, is not counted)"
				break
			}
		}
	}
	flags := " " + kv["Flags"] + " "
	switch {
	case strings.Contains(flags, " avx512f "):
		c.Lanes = 16
		if c.Vendor == "AuthenticAMD" && c.Family == "25" {
			c.Lanes = 8 // Zen 4 runs 512-bit FMAs as two 256-bit halves
		}
	case strings.Contains(flags, " avx2 ") && strings.Contains(flags, " fma "):
		c.Lanes = 8
	default:
		c.Lanes = 4
	}
	return c, nil
}

func main() {
	plain := flag.String("plain", "", "go test -bench output, plain build")
	simd := flag.String("simd", "", "go test -bench output, GOEXPERIMENT=simd build")
	torchJSON := flag.String("torch", "", "torch_ref.py --json output")
	dir := flag.String("dir", "", "run directory: lscpu.txt, cpuinfo.txt, load.txt, meta.txt, prof-*.txt")
	out := flag.String("out", "REPORT.md", "report to write")
	flag.Parse()
	if err := run(*plain, *simd, *torchJSON, *dir, *out); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(plainPath, simdPath, torchPath, dir, outPath string) error {
	plain, err := parseGo(plainPath)
	if err != nil {
		return err
	}
	simd, err := parseGo(simdPath)
	if err != nil {
		return err
	}
	var tj torchOut
	data, err := os.ReadFile(torchPath)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, &tj); err != nil {
		return fmt.Errorf("%s: %w", torchPath, err)
	}
	torch := map[string]torchResult{}
	for _, r := range tj.Results {
		torch[r.Workload+"/"+r.Size] = r
	}
	c, err := parseCPU(filepath.Join(dir, "lscpu.txt"), filepath.Join(dir, "cpuinfo.txt"))
	if err != nil {
		return err
	}
	peak := c.peakGFLOPs()

	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# gosrppo benchmarks vs PyTorch\n\n")
	p("Generated by `bench/run.sh` (bench/report); do not edit by hand. Notes and the profile analysis: `bench/NOTES.md`.\n\n")
	if meta, err := os.ReadFile(filepath.Join(dir, "meta.txt")); err == nil {
		p("```\n%s```\n\n", meta)
	}
	p("## Machine and peak\n\n")
	p("- CPU: %s (%s, family %s), %d cores used by both implementations.\n", c.Model, c.Vendor, c.Family, c.Cores)
	p("- fp32 peak = cores × GHz × 2 (FMA) × FMA pipes × fp32 lanes = %d × %.3f × 2 × %d × %d = **%.1f GFLOP/s**. Lanes: 16 with avx512f (8 on AMD family 25, whose AVX-512 is double-pumped), 8 with avx2+fma; 2 FMA pipes assumed (Zen 4/5, most Xeons); %s.\n",
		c.Cores, c.MHz/1e3, c.Pipes, c.Lanes, peak, c.Note)
	p("- PyTorch %s (Python %s), %d threads, BLAS %s.\n", tj.Torch, tj.Python, tj.Threads, tj.BLAS)
	if load, err := os.ReadFile(filepath.Join(dir, "load.txt")); err == nil {
		p("- Load (`uptime`) at each phase — other jobs share the 2 cores, so absolute numbers are noisy; compare phases run close together:\n\n```\n%s```\n", load)
	}

	p("\n## Models\n\n")
	p("| size | scaling | layers | d_model | heads | d_ff | context | vocab | parameters (Go formula / PyTorch) |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range bench.Sizes() {
		cf := s.Config
		p("| %s | %s | %d | %d | %d | %d | %d | %d | %d / %d |\n", s.Name, s.Scale, cf.Layers, cf.DModel, cf.Heads, cf.DFF, cf.Context, cf.VocabSize, bench.Params(cf), tj.Params[s.Name])
	}
	if len(tj.Check) > 0 {
		var ck struct {
			Size                 string             `json:"size"`
			ParamsTorch          int                `json:"params_torch"`
			ParamsGo             int                `json:"params_go"`
			ParamsFormula        int                `json:"params_formula"`
			TrainLogpMaxAbsDiff  float64            `json:"train_logp_max_abs_diff"`
			TrainLoss            []float64          `json:"train_loss"`
			TrainGradNorm        []float64          `json:"train_grad_norm"`
			DecodeLogpMaxAbsDiff float64            `json:"decode_logp_max_abs_diff"`
			GreedyTokensEqual    []int              `json:"greedy_tokens_equal"`
			FLOPsTorchRaw        map[string]float64 `json:"flops_torch"`
			FLOPsGoRaw           map[string]float64 `json:"flops_go"`
			OK                   bool               `json:"ok"`
		}
		if err := json.Unmarshal(tj.Check, &ck); err != nil {
			return fmt.Errorf("check: %w", err)
		}
		same := true
		for w, f := range ck.FLOPsGoRaw {
			same = same && ck.FLOPsTorchRaw[w] == f
		}
		p("\nCross-check on the same %s weights (`TestExportReference` writes them, `torch_ref.py --check` compares): **%s**\n\n", ck.Size, map[bool]string{true: "OK", false: "FAILED"}[ck.OK])
		p("| check | Go | PyTorch |\n|---|---|---|\n")
		p("| parameters (formula %d) | %d | %d |\n", ck.ParamsFormula, ck.ParamsGo, ck.ParamsTorch)
		p("| teacher-forced log-probs, 32×64 batch | max abs diff %.2g | |\n", ck.TrainLogpMaxAbsDiff)
		if len(ck.TrainLoss) == 2 && len(ck.TrainGradNorm) == 2 {
			p("| first training step: loss / grad norm | %.6f / %.5f | %.6f / %.5f |\n", ck.TrainLoss[0], ck.TrainGradNorm[0], ck.TrainLoss[1], ck.TrainGradNorm[1])
		}
		p("| KV-cache decoding fed Go's greedy tokens: log-probs | max abs diff %.2g | |\n", ck.DecodeLogpMaxAbsDiff)
		if len(ck.GreedyTokensEqual) == 2 {
			p("| greedy tokens equal (random weights: near-ties may differ) | %d of %d | |\n", ck.GreedyTokensEqual[0], ck.GreedyTokensEqual[1])
		}
		p("| FLOPs per op, 4 workloads (same formula in bench.go and torch_ref.py) | %s | |\n", map[bool]string{true: "identical", false: "DIFFER"}[same])
	}

	p("\n## Workloads and FLOP formula\n\n")
	p("- **TrainStep**: one AdamW step (global-norm clip) on %d rows × %d tokens, every target in the loss; tokens = %d targets.\n", bench.TrainRows, bench.TrainCols, bench.Tokens(bench.WTrain))
	p("- **Generate**: %d rows (%d prompts × %d) × %d forced new tokens, temperature 1, KV cache, batches of %d rows (prompts 7–11 tokens, left-padded to %d); tokens = %d generated.\n", bench.Rows, bench.Prompts, bench.Samples, bench.MaxNew, bench.BatchRows, bench.PromptWidth, bench.Tokens(bench.WGenerate))
	p("- **Score**: teacher-forced log-probs of the %d response tokens of each row under policy, π_sft, π_pt, plus the critic's values (srppo.Score: rows %d wide, batches of %d); tokens = %d response tokens, each scored by all 4 models.\n", bench.MaxNew, bench.PairWidth, bench.BatchRows, bench.Tokens(bench.WScore))
	p("- **PPOIteration**: Generate + Score + GAE/whitening + Update (%d epochs × %d minibatches of %d rows: a policy and a critic AdamW step each); tokens = %d generated.\n", bench.PPOEpochs, bench.Rows/bench.Minibatch, bench.Minibatch, bench.Tokens(bench.WPPO))
	p("- FLOPs (2 per multiply-add, executed padded shapes, same formula in bench.go and torch_ref.py): per token trunk = 2·L·(4d² + 2d·d_ff), attention = 4·L·K·d over K key columns (the padded row width when teacher-forced, the written cache columns rounded up to 8 when decoding), LM head = 2·V·d where logits are computed; a training step = 3 × forward. Element-wise ops, softmax, LayerNorm and the optimiser are not counted.\n\n")
	p("| workload | ")
	for _, s := range bench.Sizes() {
		p("GFLOP/op %s | ", s.Name)
	}
	p("\n|---|---|---|---|\n")
	for _, w := range bench.Workloads {
		p("| %s | ", w)
		for _, s := range bench.Sizes() {
			p("%.2f | ", bench.FLOPs(w, s.Config)/1e9)
		}
		p("\n")
	}

	p("\n## Results\n\n")
	p("tokens/s at the median operation time [min–max over the timed repetitions]; ratio = gosrppo / PyTorch tokens/s (> 1: Go faster); %%peak = achieved GFLOP/s / %.0f. Each Go op and PyTorch op is timed separately; reps = timed operations. With other jobs on the machine, single-rep rows can be off by 2× — compare the d128 rows (run back to back, more reps) first.\n\n", peak)
	p("| workload | size | Go plain tok/s | Go simd tok/s | PyTorch tok/s | plain/PyTorch | simd/PyTorch | simd/plain | GFLOP/s plain / simd / PyTorch | %%peak plain / simd / PyTorch | reps plain/simd/torch |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|\n")
	tok := func(r goResult, ok bool) string {
		if !ok {
			return "—"
		}
		med := r.M["ms-median"]
		t := float64(bench.Tokens(r.Workload))
		return fmt.Sprintf("%.0f [%.0f–%.0f]", r.M["tokens/s"], t/(r.M["ms-max"]/1e3), t/(r.M["ms-min"]/1e3)) + fmtIf(med == 0, "?")
	}
	ratio := func(a, b float64) string {
		if a == 0 || b == 0 || math.IsNaN(a) || math.IsNaN(b) {
			return "—"
		}
		return fmt.Sprintf("%.2f", a/b)
	}
	for _, w := range bench.Workloads {
		for _, s := range bench.Sizes() {
			key := w + "/" + s.Name
			pr, pok := plain[key]
			sr, sok := simd[key]
			tr, tok2 := torch[key]
			if !pok && !sok && !tok2 {
				continue
			}
			ts := "—"
			if tok2 {
				t := float64(bench.Tokens(w))
				ts = fmt.Sprintf("%.0f [%.0f–%.0f]", tr.TokensPerS, t/tr.SecMax, t/tr.SecMin)
			}
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s / %s | %s / %s / %s | %s/%s/%s |\n", w, s.Name, tok(pr, pok), tok(sr, sok), ts,
				ratio(pr.M["tokens/s"], tr.TokensPerS), ratio(sr.M["tokens/s"], tr.TokensPerS), ratio(sr.M["tokens/s"], pr.M["tokens/s"]),
				f2(pr.M["GFLOP/s"], pok), f2(sr.M["GFLOP/s"], sok), f2(tr.GFLOPs, tok2),
				pct(pr.M["GFLOP/s"]/peak, pok), pct(sr.M["GFLOP/s"]/peak, sok), pct(tr.GFLOPs/peak, tok2),
				intIf(pr.N, pok), intIf(sr.N, sok), intIf(tr.Reps, tok2))
		}
	}

	if err := roundsTable(p, dir, simd, torch); err != nil {
		return err
	}

	p("\n### PPO iteration by stage (median ms; update includes advantages)\n\n")
	p("| size | stage | Go plain | Go simd | PyTorch | simd/PyTorch time |\n|---|---|---|---|---|---|\n")
	for _, s := range bench.Sizes() {
		key := bench.WPPO + "/" + s.Name
		pr, pok := plain[key]
		sr, sok := simd[key]
		tr, tok2 := torch[key]
		if !pok && !sok && !tok2 {
			continue
		}
		for _, st := range []string{"sample", "score", "update"} {
			g := func(r goResult, ok bool) string {
				if !ok {
					return "—"
				}
				return fmt.Sprintf("%.0f", r.M["ms-"+st])
			}
			ts, rt := "—", "—"
			if tok2 && tr.StagesMS != nil {
				ts = fmt.Sprintf("%.0f", tr.StagesMS[st])
				if sok {
					rt = ratio(sr.M["ms-"+st], tr.StagesMS[st])
				}
			}
			p("| %s | %s | %s | %s | %s | %s |\n", s.Name, st, g(pr, pok), g(sr, sok), ts, rt)
		}
	}

	p("\n### How cost grows with size (median time relative to d128; FLOP ratio for comparison)\n\n")
	p("| workload | size | FLOP ratio | Go plain | Go simd | PyTorch |\n|---|---|---|---|---|---|\n")
	for _, w := range bench.Workloads {
		base := bench.Sizes()[0]
		for _, s := range bench.Sizes()[1:] {
			rel := func(m map[string]goResult) string {
				a, ok1 := m[w+"/"+s.Name]
				z, ok2 := m[w+"/"+base.Name]
				if !ok1 || !ok2 {
					return "—"
				}
				return fmt.Sprintf("%.2f×", a.M["ms-median"]/z.M["ms-median"])
			}
			tr := "—"
			if a, ok := torch[w+"/"+s.Name]; ok {
				if z, ok := torch[w+"/"+base.Name]; ok {
					tr = fmt.Sprintf("%.2f×", a.SecMedian/z.SecMedian)
				}
			}
			p("| %s | %s | %.2f× | %s | %s | %s |\n", w, s.Name, bench.FLOPs(w, s.Config)/bench.FLOPs(w, base.Config), rel(plain), rel(simd), tr)
		}
	}

	p("\n### Graph calls and compilations (Go, counted from GoMLX's klog lines)\n\n")
	p("Counted around every operation. First op = the untimed warm-up, or the first timed op where there is none (PPOIteration, d512); later ops = the timed ops after it (the only op when a single unwarmed op ran, so its compilations show there).\n\n")
	p("| workload | size | graph calls / op | compilations, first op | compilations / later op (plain, simd) |\n|---|---|---|---|---|\n")
	var keys []string
	for k := range simd {
		keys = append(keys, k)
	}
	for k := range plain {
		if _, ok := simd[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return orderKey(keys[i]) < orderKey(keys[j]) })
	for _, k := range keys {
		r, ok := simd[k]
		if !ok {
			r = plain[k]
		}
		pc, sc := "—", "—"
		if x, ok := plain[k]; ok {
			pc = fmt.Sprintf("%g", x.M["compiles/op"])
		}
		if x, ok := simd[k]; ok {
			sc = fmt.Sprintf("%g", x.M["compiles/op"])
		}
		p("| %s | %s | %g | %g | %s, %s |\n", r.Workload, r.Size, r.M["graph-calls/op"], r.M["compiles-first"], pc, sc)
	}

	profs, _ := filepath.Glob(filepath.Join(dir, "prof-*.txt"))
	if len(profs) > 0 {
		p("\n## CPU profiles (`go tool pprof -top`, first lines)\n\n")
		for _, f := range profs {
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			lines := strings.Split(string(data), "\n")
			lines = lines[:min(len(lines), 32)]
			p("### %s\n\n```\n%s\n```\n\n", strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "prof-"), ".txt"), strings.Join(lines, "\n"))
		}
	}
	return os.WriteFile(outPath, []byte(b.String()), 0o644)
}

// roundsTable writes the simd/PyTorch ratio of every round (round 1: the results above; rounds 2…:
// dir/roundN-go-simd.txt and dir/roundN-torch-SIZE.json) and their median, for the workloads and
// sizes that ran in more than one round.
func roundsTable(p func(string, ...any), dir string, simd map[string]goResult, torch map[string]torchResult) error {
	goRounds := []map[string]goResult{simd}
	torchRounds := []map[string]torchResult{torch}
	for r := 2; ; r++ {
		goPath := filepath.Join(dir, fmt.Sprintf("round%d-go-simd.txt", r))
		if _, err := os.Stat(goPath); err != nil {
			break
		}
		g, err := parseGo(goPath)
		if err != nil {
			return err
		}
		t := map[string]torchResult{}
		files, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("round%d-torch-*.json", r)))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			var tj torchOut
			if err := json.Unmarshal(data, &tj); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			for _, x := range tj.Results {
				t[x.Workload+"/"+x.Size] = x
			}
		}
		goRounds, torchRounds = append(goRounds, g), append(torchRounds, t)
	}
	if len(goRounds) < 2 {
		return nil
	}
	p("\n### Ratio over rounds (simd / PyTorch tokens/s)\n\n")
	p("Round 1 is the table above; rounds 2–%d ran the simd build and PyTorch again right after it, PyTorch first in even rounds. Each cell is one round's ratio of medians; the last columns are the median over rounds of the ratio and of each implementation's tokens/s.\n\n", len(goRounds))
	p("| workload | size |")
	for r := range goRounds {
		p(" round %d |", r+1)
	}
	p(" median ratio | Go simd tok/s (median) | PyTorch tok/s (median) |\n|---|---|")
	for range goRounds {
		p("---|")
	}
	p("---|---|---|\n")
	for _, w := range bench.Workloads {
		for _, s := range bench.Sizes() {
			key := w + "/" + s.Name
			var ratios, gos, ts []float64
			cells := ""
			for r := range goRounds {
				g, ok1 := goRounds[r][key]
				t, ok2 := torchRounds[r][key]
				if !ok1 || !ok2 || t.TokensPerS == 0 {
					cells += " — |"
					continue
				}
				x := g.M["tokens/s"] / t.TokensPerS
				ratios, gos, ts = append(ratios, x), append(gos, g.M["tokens/s"]), append(ts, t.TokensPerS)
				cells += fmt.Sprintf(" %.2f |", x)
			}
			if len(ratios) < 2 {
				continue
			}
			p("| %s | %s |%s **%.2f** | %.0f | %.0f |\n", w, s.Name, cells, bench.Median(ratios), bench.Median(gos), bench.Median(ts))
		}
	}
	return nil
}

func orderKey(k string) string {
	w, s, _ := strings.Cut(k, "/")
	for i, x := range bench.Workloads {
		if x == w {
			return fmt.Sprintf("%d/%08s", i, s)
		}
	}
	return "9/" + k
}

func fmtIf(c bool, s string) string {
	if c {
		return s
	}
	return ""
}

func f2(v float64, ok bool) string {
	if !ok {
		return "—"
	}
	return fmt.Sprintf("%.2f", v)
}

func pct(v float64, ok bool) string {
	if !ok {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}

func intIf(n int, ok bool) string {
	if !ok {
		return "—"
	}
	return strconv.Itoa(n)
}
