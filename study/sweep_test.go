package study

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gosrppo/gosrppo/srppo"
)

// The configurations of a sweep: every axis varies one factor around the defaults, the grid
// crosses β with the exposures, and a configuration shared by several axes runs once.
func TestSweepConfigs(t *testing.T) {
	b, err := LookupBudget("sweep")
	if err != nil {
		t.Fatal(err)
	}
	sp := b.Sweep
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	d := sp.Default()
	if d.Name() != "x0-N64-loss-b0.05-raw-eos-i20" {
		t.Errorf("default configuration %q", d.Name())
	}
	axes := sp.Axes()
	var names []string
	for _, ax := range axes {
		names = append(names, ax.Name)
		if len(ax.Levels) != len(ax.Configs) {
			t.Errorf("%s: %d levels, %d configs", ax.Name, len(ax.Levels), len(ax.Configs))
		}
	}
	if want := []string{AxisBeta, AxisShaping, AxisSelection, AxisExposure, AxisGrid, AxisLength}; !slices.Equal(names, want) {
		t.Fatalf("axes %v, want %v", names, want)
	}
	// β 3 + shaping 3 more + token + selection 3 (at N = 16) + exposure 4 + grid (5×3 − 3 − 5 + 1
	// = 8 more) + length 2 shapings × 2 placements.
	configs := sp.Configs()
	if len(configs) != 3+3+1+3+4+8+4 {
		t.Errorf("%d distinct configurations, want 26", len(configs))
	}
	for _, ax := range axes[:4] {
		ref := d
		if ax.Name == AxisSelection {
			ref.N = 16 // the selection axis varies around the default at its own N
		}
		if ax.Configs[0] != ref {
			t.Errorf("%s does not start at the default: %+v", ax.Name, ax.Configs[0])
		}
		for _, c := range ax.Configs {
			if c.N != ref.N {
				t.Errorf("%s: %s at N=%d", ax.Name, c.Name(), c.N)
			}
			diffs := 0
			if c.Beta != d.Beta {
				diffs++
			}
			if c.Shaping != d.Shaping || c.Placement != d.Placement {
				diffs++
			}
			if c.Selection != d.Selection {
				diffs++
			}
			if c.Exposure != d.Exposure {
				diffs++
			}
			if diffs > 1 || c.Iterations != sp.GainIterations {
				t.Errorf("%s: %s varies more than one factor", ax.Name, c.Name())
			}
		}
	}
	length := axes[5]
	for _, c := range length.Configs {
		if c.Iterations != 100 || c.Beta != d.Beta || c.Selection != d.Selection {
			t.Errorf("length run %s", c.Name())
		}
	}
	// The per-token baseline is computed only for the SFT models a baseline run starts from.
	s := &Study{b: b, ws: Workspace{Dir: t.TempDir()}}
	var baselines []string
	for _, st := range s.sweepPlan() {
		if strings.HasPrefix(st.Key, "swbaseline-") {
			baselines = append(baselines, st.Key)
		}
	}
	if !slices.Equal(baselines, []string{"swbaseline-x0-N64-loss-s1", "swbaseline-x0-N64-loss-s2", "swbaseline-x0-N64-loss-s3"}) {
		t.Errorf("baseline stages %v", baselines)
	}
	// Every PPO stage waits for its SFT run, and for the exposure variant it starts from; SFT
	// runs at N = 16 exist only for the selection axis's variant.
	var sft16 []string
	for _, st := range s.sweepPlan() {
		if strings.HasPrefix(st.Key, "ppo-sw-x2") && !slices.Contains(st.Inputs, "swbase-x2") {
			t.Errorf("%s inputs %v", st.Key, st.Inputs)
		}
		if strings.HasPrefix(st.Key, "ppo-sw-x0-N16-em") && !slices.Contains(st.Inputs, "swsft-x0-N16-s"+st.Key[len(st.Key)-1:]) {
			t.Errorf("%s inputs %v", st.Key, st.Inputs)
		}
		if strings.HasPrefix(st.Key, "swsft-") && strings.Contains(st.Key, "-N16-") {
			sft16 = append(sft16, st.Key)
		}
	}
	if !slices.Equal(sft16, []string{"swsft-x0-N16-s1", "swsft-x0-N16-s2", "swsft-x0-N16-s3"}) {
		t.Errorf("SFT runs at N = 16: %v", sft16)
	}
}

func TestSweepSpecValidate(t *testing.T) {
	ok := func() SweepSpec {
		b, _ := LookupBudget("sweep-small")
		return *b.Sweep
	}
	base := ok()
	if err := base.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*SweepSpec)
		want string
	}{
		{"default shaping not first", func(s *SweepSpec) { s.Shapings = []string{ShapeBaseline, ShapeRaw} }, "defaults come first"},
		{"unknown shaping", func(s *SweepSpec) { s.Shapings = append(s.Shapings, "whiten") }, `"whiten"`},
		{"clip without c", func(s *SweepSpec) { s.Shapings, s.Clip = append(s.Shapings, ShapeClip), 0 }, "clip > 0"},
		{"eos_mean length runs", func(s *SweepSpec) { s.LengthShapings = []string{ShapeEOSMean} }, "no `token` counterpart"},
		{"unknown selection", func(s *SweepSpec) { s.Selections = append(s.Selections, "best") }, `"best"`},
		{"negative beta", func(s *SweepSpec) { s.Betas = []float64{-1} }, "beta -1"},
		{"empty exposure after the base", func(s *SweepSpec) { s.Exposures = append(s.Exposures, Exposure{}) }, "exposure 2"},
		{"fraction above 1", func(s *SweepSpec) { s.Exposures[1].Fraction = 1.5 }, "exposure 1"},
		{"no validation items", func(s *SweepSpec) { s.ValPerSplit = 0 }, "val_per_split"},
	} {
		sp := ok()
		sp.Exposures = slices.Clone(sp.Exposures)
		tc.edit(&sp)
		if err := sp.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

// sweepRow is a hand-built row: per-seed values of the columns the criteria read.
func sweepRow(name string, cols map[string][]float64) Row {
	r := Row{Key: Key{Method: Method(name)}, Name: name, Cells: map[string]Cell{}}
	for _, c := range slices.Sorted(func(yield func(string) bool) {
		for k := range cols {
			if !yield(k) {
				return
			}
		}
	}) {
		r.add(c, cols[c])
	}
	return r
}

func sweepTablesOf(n int, axes ...SweepAxisTable) *SweepTables {
	return &SweepTables{Splits: []string{"id", "ood_op", "ood_len"}, Budget: Budget{Seeds: 3, Sweep: &SweepSpec{N: n}}, Axes: axes}
}

func gainAxis(rows ...Row) SweepAxisTable {
	t := SweepAxisTable{Axis: SweepAxis{Name: AxisBeta}}
	for _, r := range rows {
		t.Axis.Levels = append(t.Axis.Levels, r.Name)
		t.Axis.Configs = append(t.Axis.Configs, SweepConfig{})
		t.Rows = append(t.Rows, r)
	}
	return t
}

func TestCriterionC(t *testing.T) {
	// a: best on validation out of domain, in-domain fine there; its eval gain decides.
	// b: larger validation gain but drops 3 points in domain on validation: not eligible.
	// c: smaller validation gain.
	row := func(name string, valID, valOOD, id, op, ln float64) Row {
		return sweepRow(name, map[string][]float64{
			ValGainCol("id"): {valID, valID, valID}, ValGainOODCol: {valOOD, valOOD, valOOD},
			GainCol("id"): {id, id, id}, GainCol("ood_op"): {op, op - 1, op + 1}, GainCol("ood_len"): {ln, ln, ln},
		})
	}
	for _, tc := range []struct {
		name   string
		rows   []Row
		n      int
		chosen string
		held   bool
	}{
		{"holds", []Row{row("a", 1, 6, -1, 5.5, 2), row("b", -3, 9, 0, 9, 9), row("c", 0, 2, 0, 9, 9)}, 64, "a", true},
		{"eval gain 4.9", []Row{row("a", 1, 6, -1, 4.9, 2), row("c", 0, 2, 0, 9, 9)}, 64, "a", false},
		{"exactly 5 and exactly −2 in domain", []Row{row("a", 2, 6, -2, 5, 2)}, 64, "a", true},
		{"in-domain drop on eval", []Row{row("a", 1, 6, -2.5, 8, 2)}, 64, "a", false},
		{"nothing eligible on validation", []Row{row("b", -3, 9, 0, 9, 9)}, 64, "", false},
	} {
		v := CriterionC(sweepTablesOf(tc.n, gainAxis(tc.rows...)))
		if !v.Measured || v.Held != tc.held {
			t.Errorf("%s: measured %v held %v, want held %v: %v", tc.name, v.Measured, v.Held, tc.held, v.Lines)
		}
		if tc.chosen != "" && !strings.Contains(v.Lines[0], "chosen on validation: "+tc.chosen+" ") {
			t.Errorf("%s: %v, want %s chosen", tc.name, v.Lines, tc.chosen)
		}
	}
	if v := CriterionC(sweepTablesOf(256, gainAxis(row("a", 0, 9, 0, 9, 9)))); v.Measured {
		t.Errorf("N = 256 measured: %v", v.Lines)
	}
	// The length axis is not a candidate (its runs are longer, not chosen for the gain).
	length := gainAxis(row("long", 0, 20, 0, 20, 20))
	length.Axis.Name = AxisLength
	if v := CriterionC(sweepTablesOf(64, gainAxis(row("a", 0, 1, 0, 1, 1)), length)); v.Held || !strings.Contains(v.Lines[0], "chosen on validation: a ") {
		t.Errorf("a length run was chosen: %v", v.Lines)
	}
}

func TestCriterionD(t *testing.T) {
	lengthAxis := func(rows map[string][2]float64) SweepAxisTable {
		t := SweepAxisTable{Axis: SweepAxis{Name: AxisLength}}
		for _, sh := range []string{ShapeRaw, ShapeBaseline} {
			for _, pl := range []string{srppo.PlaceEOS, srppo.PlaceToken} {
				l, ok := rows[pl+" "+sh]
				if !ok {
					continue
				}
				t.Axis.Configs = append(t.Axis.Configs, SweepConfig{Shaping: sh, Placement: pl, Iterations: 100})
				t.Axis.Levels = append(t.Axis.Levels, pl+" "+sh)
				// Seeds whose mean is l: the criterion reads the change of the 3-seed means.
				t.Rows = append(t.Rows, sweepRow(pl+" "+sh, map[string][]float64{LenStartCol: {l[0] - 0.1, l[0], l[0] + 0.1}, LenEndCol: {l[1] - 1, l[1], l[1] + 1}}))
			}
		}
		return t
	}
	for _, tc := range []struct {
		name string
		rows map[string][2]float64
		held bool
	}{
		{"raw fails, baseline holds", map[string][2]float64{"eos raw": {2.5, 12}, "token raw": {2.5, 20}, "eos baseline": {2.5, 2.7}, "token baseline": {2.5, 4}}, true},
		{"eos at exactly +10 %", map[string][2]float64{"eos raw": {2, 2.2}, "token raw": {2, 3}}, true},
		{"token also stays", map[string][2]float64{"eos raw": {2.5, 2.6}, "token raw": {2.5, 2.7}}, false},
		{"eos drifts", map[string][2]float64{"eos raw": {2.5, 3}, "token raw": {2.5, 9}}, false},
		{"shortening counts as moving", map[string][2]float64{"eos raw": {2.5, 2.5}, "token raw": {2.5, 2}}, true},
	} {
		v := CriterionD(sweepTablesOf(64, lengthAxis(tc.rows)))
		if !v.Measured || v.Held != tc.held {
			t.Errorf("%s: measured %v held %v, want %v: %v", tc.name, v.Measured, v.Held, tc.held, v.Lines)
		}
	}
	if v := CriterionD(sweepTablesOf(64, lengthAxis(map[string][2]float64{"eos raw": {2, 2}}))); v.Measured {
		t.Errorf("eos without token measured: %v", v.Lines)
	}
	if v := CriterionD(sweepTablesOf(64)); v.Measured {
		t.Errorf("no length axis measured: %v", v.Lines)
	}
}

// BuildSweepRow: EM changes are per-seed differences PPO − its SFT model in points, the
// out-of-domain columns average the out-of-domain splits, and length change is per seed.
func TestBuildSweepRow(t *testing.T) {
	splits := []string{"id", "ood_op", "ood_len"}
	ev := func(id, op, ln float64) evalResult {
		return evalResult{EM: map[string]float64{"id": id, "ood_op": op, "ood_len": ln}}
	}
	seed := func(k float64) sweepSeed {
		return sweepSeed{
			sft:     sweepEval{Eval: ev(0.5, 0.3, 0.4), Val: ev(0.5, 0.3, 0.4)},
			ppo:     sweepEval{Eval: ev(0.5+k/100, 0.3+2*k/100, 0.4), Val: ev(0.5, 0.3+k/100, 0.4+k/100)},
			metrics: []srppo.Metrics{{Length: 2}, {Length: 2 + k, TruncPct: 10 * k}},
			t3: sweepT3{T3: []srppo.RewardDiagnostics{
				{Split: "id", PairwiseAcc: 0.6, DeltaContent: 2, DeltaEOS: 1},
				{Split: "ood_op", PairwiseAcc: 0.4, DeltaContent: 3, DeltaEOS: 1},
				{Split: "ood_len", PairwiseAcc: srppo.Float(math.NaN()), DeltaContent: 4, DeltaEOS: 1},
			}},
		}
	}
	r := BuildSweepRow("x", "x", splits, []sweepSeed{seed(1), seed(2), seed(3)})
	near := func(col string, want float64) {
		t.Helper()
		if got := r.Mean(col); math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", col, got, want)
		}
	}
	near(GainCol("id"), 2)     // (1 + 2 + 3) / 3
	near(GainCol("ood_op"), 4) // 2·k
	near(GainCol("ood_len"), 0)
	near(GainOODCol, 2)       // (4 + 0) / 2
	near(ValGainCol("id"), 0) //
	near(ValGainOODCol, 2)    // k on both ood splits
	near(LenChangeCol, 100)   // (50 + 100 + 150) / 3
	near(TruncEndCol, 20)     //
	near(PairOODCol, 0.4)     // the NaN split is skipped
	near(DeltaContCol, 3)     // mean over splits
	near(SFTOODCol, 0.35)     //
	if c := r.Cells[GainCol("id")]; c.N != 3 || math.Abs(float64(c.SD)-1) > 1e-9 {
		t.Errorf("Δ id cell %+v, want sd 1 over 3 seeds", c)
	}
}

// A tiny sweep end to end on a small generated world: a shard worker runs every stage (the
// exposure variant is continued-pretrained on chat Q&A documents, SFT keeps three epochs), the
// rendering run computes nothing more, the tables, criteria and RESULTS_sweep.md come out, and
// a second invocation finds every stage cached.
func TestSweepEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("pipeline smoke test")
	}
	ws := tinyWorkspace(t)
	ws.BudgetName, ws.Publish = "sweep-smoke", t.TempDir()
	b, err := LookupBudget("sweep-small")
	if err != nil {
		t.Fatal(err)
	}
	b.Ns, b.T2N, b.Seeds, b.EvalPerSplit, b.T3Items, b.T3K, b.RolloutPrompt = []int{16}, 16, 2, 6, 3, 2, 4
	b.SFTEpochs, b.SFTMinSteps, b.PretrainEpoch = 3, 4, 1
	b.Sweep.N, b.Sweep.ValPerSplit, b.Sweep.SelectItems, b.Sweep.BaselinePrompts = 16, 6, 4, 4
	b.Sweep.GainIterations, b.Sweep.LengthIterations = 2, 2
	b.Sweep.Exposures = []Exposure{{}, {Docs: 40, Fraction: 0.5}}
	b.Iterations, b.T2At = 2, []int{0, 1}
	// A worker of a sharded run computes every stage (its share, then the rest) and renders
	// nothing; the rendering run then finds every stage cached.
	if err := RunShard(context.Background(), ws, b, Shard{Index: 1, Of: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ws.Dir, SweepResultsFile)); err == nil {
		t.Error("a shard worker rendered RESULTS_sweep.md")
	}
	computed, _ := filepath.Glob(filepath.Join(ws.Dir, StagesDir, "*.seconds"))
	if _, err := Reproduce(context.Background(), ws, b); err != nil {
		t.Fatal(err)
	}
	if again, _ := filepath.Glob(filepath.Join(ws.Dir, StagesDir, "*.seconds")); len(again) != len(computed) {
		t.Errorf("rendering after the shard computed %d more stages", len(again)-len(computed))
	}
	var st SweepTables
	if err := srppo.ReadJSON(filepath.Join(ws.Dir, SweepTablesFile), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Bases) != 2 || st.Bases[1].ChatDocs != 20 || st.Bases[1].Steps < 1 {
		t.Errorf("π_pt variants %+v", st.Bases)
	}
	for _, dir := range []string{"", srppo.SFTScoreSubdir, srppo.SFTLongSubdir} {
		if _, err := os.Stat(filepath.Join(ws.Dir, "sweep", "sft", "x1-N16-s2", dir, srppo.ConfigFile)); err != nil && dir != "" {
			t.Errorf("SFT model %q: %v", dir, err)
		}
	}
	grid := st.Axis(AxisGrid)
	if grid == nil || len(grid.Rows) != 4 {
		t.Fatalf("grid axis %+v", grid)
	}
	for _, ax := range st.Axes {
		for _, r := range ax.Rows {
			if c := r.Cells[GainOODCol]; c.N != 2 {
				t.Errorf("%s/%s: Δ ood over %d seeds", ax.Axis.Name, r.Name, c.N)
			}
		}
	}
	if v := CriterionD(&st); !v.Measured {
		t.Errorf("criterion (d) not measured: %v", v.Lines)
	}
	md, err := os.ReadFile(filepath.Join(ws.Dir, SweepResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"**(c)**", "**(d)**", "## Discussion", "1. KL coefficient β", SweepHeatMapFigure, SweepLengthFigure, "### KL coefficient β"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("RESULTS_sweep.md lacks %q", want)
		}
	}
	// The pairwise-accuracy figure is drawn when some SFT model has a pair of a correct and a
	// wrong sample to compare (a tiny model may have none).
	pairs := false
	for _, r := range st.Axis(AxisExposure).Rows {
		pairs = pairs || !math.IsNaN(r.Mean(PairIDCol)) || !math.IsNaN(r.Mean(PairOODCol))
	}
	if pairs != strings.Contains(string(md), SweepPairFigure) {
		t.Errorf("pairs to compare: %v; pairwise-accuracy figure in RESULTS_sweep.md: %v", pairs, !pairs)
	}
	if got := RenderSweepResults(&st, FiguresDir, DesignLink(ws.Dir)); got != string(md) {
		t.Error("RESULTS_sweep.md is not what sweep.json renders to")
	}
	// Published: RESULTS_<budget>.md beside its figures and the sweep.json it renders from.
	name, figRel := PublishedNames(ws.BudgetName)
	var published SweepTables
	if err := srppo.ReadJSON(filepath.Join(ws.Publish, figRel, SweepTablesFile), &published); err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(filepath.Join(ws.Publish, name))
	if err != nil || string(pub) != RenderSweepResults(&published, figRel, DesignLink(ws.Publish)) {
		t.Errorf("published %s is not what its sweep.json renders to (%v)", name, err)
	}
	if _, err := os.Stat(filepath.Join(ws.Publish, figRel, SweepHeatMapFigure)); err != nil {
		t.Errorf("published heat map: %v", err)
	}
	// Everything is cached: a second invocation computes nothing and gives the same tables.
	before, _ := filepath.Glob(filepath.Join(ws.Dir, StagesDir, "*.seconds"))
	if _, err := Reproduce(context.Background(), ws, b); err != nil {
		t.Fatal(err)
	}
	var again SweepTables
	if err := srppo.ReadJSON(filepath.Join(ws.Dir, SweepTablesFile), &again); err != nil {
		t.Fatal(err)
	}
	after, _ := filepath.Glob(filepath.Join(ws.Dir, StagesDir, "*.seconds"))
	if len(after) != len(before) || FormatSweepTables(&again) != FormatSweepTables(&st) {
		t.Error("the second invocation recomputed stages or changed the tables")
	}
}

// The discussion reads each hypothesis from the tables: a level that raises the out-of-domain
// gain beyond 2 standard errors supports it, one that only lowers it rejects it, and
// differences within the noise support nothing; the wrong-answer control is compared with its
// correct-answer twin, not counted as the most exposed variant.
func TestSweepDiscussion(t *testing.T) {
	gain := func(name string, g ...float64) Row {
		return sweepRow(name, map[string][]float64{GainOODCol: g, LenChangeCol: {0, 0, 0}, PairOODCol: {0.4, 0.4, 0.4}})
	}
	axis := func(name string, rows ...Row) SweepAxisTable {
		a := gainAxis(rows...)
		a.Axis.Name = name
		return a
	}
	for _, tc := range []struct {
		name string
		rows []Row
		want string
	}{
		{"supported", []Row{gain("β=0.05", -1, 0, 1), gain("β=0.2", 0, 1, 2), gain("β=1", 5, 6, 7)}, "β=1 raises the out-of-domain gain by +6.0 ± 1.6 points (2 SE) against β=0.05: **supported**"},
		{"rejected", []Row{gain("β=0.05", -1, 0, 1), gain("β=1", -7, -6, -5)}, "β=1 lowers it by -6.0 ± 1.6 points (2 SE) against β=0.05: **rejected**"},
		{"noise", []Row{gain("β=0.05", -4, 0, 4), gain("β=1", -1, 3, 7)}, "**not supported** at this resolution"},
		{"too small to count", []Row{gain("β=0.05", 0, 0, 0), gain("β=1", 1.4, 1.5, 1.6)}, "**not supported**"},
	} {
		st := sweepTablesOf(64, axis(AxisBeta, tc.rows...))
		got := sweepDiscussion(st)[0]
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: %s\nwant it to contain %q", tc.name, got, tc.want)
		}
	}
	pair := func(name string, p, g float64) Row {
		return sweepRow(name, map[string][]float64{PairOODCol: {p - 0.01, p, p + 0.01}, GainOODCol: {g - 1, g, g + 1}})
	}
	st := sweepTablesOf(64, axis(AxisExposure, pair("base", 0.4, -3), pair("low", 0.5, 0), pair("high", 0.7, 4), pair("wrong", 0.3, -5)))
	st.Bases = []SweepBase{{Label: "base", ChatAll: 0.03}, {Label: "low", ChatAll: 0.1, Exposure: Exposure{Docs: 10, Fraction: 0.5}},
		{Label: "high", ChatAll: 0.3, Exposure: Exposure{Docs: 20, Fraction: 0.5}}, {Label: "wrong", ChatAll: 0.6, Exposure: Exposure{Docs: 20, Fraction: 0.5, Wrong: 1}}}
	got := sweepDiscussion(st)[0]
	for _, want := range []string{"Most (high) vs least exposed (base): pairwise accuracy +0.300 ± 0.016 (2 SE), Δ ood +7.0 ± 1.6 (2 SE) points — **supported**",
		"Control: the same exposure with wrong answers (wrong, chat EM 0.600) against correct ones: pairwise accuracy -0.400 ± 0.016 (2 SE), Δ ood -9.0 ± 1.6 (2 SE) points"} {
		if !strings.Contains(got, want) {
			t.Errorf("exposure discussion: %s\nwant it to contain %q", got, want)
		}
	}
}
