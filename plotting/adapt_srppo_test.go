package plotting

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gosrppo/gosrppo/srppo"
)

var nan = math.NaN()

// metricsAt returns hand-made metrics at the given iterations: reward 10+it, length 5+it with
// sd 1, lengths {4+it, 6+it}, explained variance 0.5, Δ content 0.1 and Δ <eos> 4.
func metricsAt(its ...int) []srppo.Metrics {
	var ms []srppo.Metrics
	for _, it := range its {
		m := srppo.Metrics{Iteration: it, Reward: 10 + float64(it), KL: 0.1, Length: 5 + float64(it), LengthStd: 1,
			Lengths: []int{4 + it, 6 + it}, EOSPct: 100, DeltaContent: 0.1, DeltaEOS: 4, Correct: srppo.Float(nan)}
		m.ClipFrac, m.ApproxKL, m.ValueLoss, m.Entropy, m.ExplainedVar = 0.1, 0.01, 1, 1.2, 0.5
		ms = append(ms, m)
	}
	return ms
}

func panelTitles(ps []Panel) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Title)
	}
	return out
}

func seriesNames(p Panel) []string {
	var out []string
	for _, s := range p.Series {
		out = append(out, s.Name)
	}
	return out
}

func panelByTitle(t *testing.T, ps []Panel, title string) Panel {
	t.Helper()
	for _, p := range ps {
		if p.Title == title {
			return p
		}
	}
	t.Fatalf("no panel %q in %q", title, panelTitles(ps))
	return Panel{}
}

func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want one containing %q", err, want)
	}
}

func TestDashboardFromMetrics(t *testing.T) {
	d, notes, err := DashboardFromMetrics(metricsAt(0, 1, 5))
	if err != nil || len(notes) > 0 {
		t.Fatalf("err %v, notes %q", err, notes)
	}
	if !slices.Equal(d.Iteration, []float64{0, 1, 5}) {
		t.Errorf("Iteration %v", d.Iteration)
	}
	want := map[string][]float64{
		"reward": {10, 11, 15}, "kl": {0.1, 0.1, 0.1}, "length": {5, 6, 10}, "eos_pct": {100, 100, 100},
		"truncated_pct": {0, 0, 0}, "entropy": {1.2, 1.2, 1.2}, "clip_frac": {0.1, 0.1, 0.1},
		"approx_kl": {0.01, 0.01, 0.01}, "value_loss": {1, 1, 1}, "explained_var": {0.5, 0.5, 0.5},
	}
	if !reflect.DeepEqual(d.Metrics, want) {
		t.Errorf("Metrics %v\nwant %v", d.Metrics, want)
	}
	for k := range d.Metrics {
		if !slices.ContainsFunc(dashboardMetrics, func(m struct{ key, title, unit string }) bool { return m.key == k }) {
			t.Errorf("metric %q is not one PPODashboard knows", k)
		}
	}

	ms := metricsAt(0, 1, 2)
	ms[1].ExplainedVar = srppo.Float(nan)
	d, notes, err = DashboardFromMetrics(ms)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Metrics["explained_var"]; ok || len(d.Metrics) != 9 {
		t.Errorf("explained_var with a NaN is kept: %v", d.Metrics)
	}
	if len(notes) != 1 || notes[0] != "dashboard: explained var. is undefined at 1 of 3 iterations (1) and is left out" {
		t.Errorf("notes %q", notes)
	}

	for _, tc := range []struct {
		name string
		ms   []srppo.Metrics
		want string
	}{
		{"empty", nil, "dashboard metrics has no iterations"},
		{"repeated iteration", metricsAt(0, 2, 2), "iteration 2 (index 2) follows iteration 2"},
		{"decreasing", metricsAt(3, 1), "iteration 1 (index 1) follows iteration 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := DashboardFromMetrics(tc.ms)
			wantErr(t, err, tc.want)
		})
	}
}

func TestCurvesFromMetrics(t *testing.T) {
	ten := []string{"reward ΣΔ", "KL to ref", "length", "EOS", "clip fraction", "approx-KL", "value loss",
		"explained var.", "entropy", "truncated"}

	t.Run("one run", func(t *testing.T) {
		ms := metricsAt(0, 1, 2, 3)
		ms[2].ExplainedVar = srppo.Float(nan)
		ms[1].EvalEM = map[string]float64{"ood_op": 0.25, "id": 0.5}
		ms[3].EvalEM = map[string]float64{"id": 0.75}
		ps, notes, err := CurvesFromMetrics([]RunMetrics{{Name: "eos", Metrics: ms}})
		if err != nil {
			t.Fatal(err)
		}
		want := append(slices.Clone(ten), "mean Δ_t: content vs <eos>", "greedy EM on the eval slice")
		if got := panelTitles(ps); !slices.Equal(got, want) {
			t.Errorf("panels %q\nwant %q", got, want)
		}
		if len(notes) != 1 || notes[0] != `explained var., run "eos": undefined at 1 of 4 iterations (2) left out` {
			t.Errorf("notes %q", notes)
		}
		ev := panelByTitle(t, ps, "explained var.").Series[0]
		if ev.Name != "eos" || !slices.Equal(ev.X, []float64{0, 1, 3}) || !slices.Equal(ev.Y, []float64{0.5, 0.5, 0.5}) {
			t.Errorf("explained variance series %+v", ev)
		}
		r := panelByTitle(t, ps, "reward ΣΔ")
		if r.XLabel != "PPO iteration" || r.YLabel != "nats / response" || !slices.Equal(r.Series[0].Y, []float64{10, 11, 12, 13}) {
			t.Errorf("reward panel %+v", r)
		}
		if got := seriesNames(panelByTitle(t, ps, "mean Δ_t: content vs <eos>")); !slices.Equal(got, []string{"Δ content tokens", "Δ at <eos>"}) {
			t.Errorf("Δ series %q", got)
		}
		em := panelByTitle(t, ps, "greedy EM on the eval slice")
		if got := seriesNames(em); !slices.Equal(got, []string{"eval id", "eval ood_op"}) {
			t.Errorf("EM series %q", got)
		}
		if s := em.Series[0]; !slices.Equal(s.X, []float64{1, 3}) || !slices.Equal(s.Y, []float64{50, 75}) {
			t.Errorf("EM id series %+v (want percent at iterations 1 and 3)", s)
		}
	})

	t.Run("two runs", func(t *testing.T) {
		a, b := metricsAt(0, 1, 2), metricsAt(0, 1)
		for i := range a {
			a[i].Correct = 50
		}
		b[1].EvalEM = map[string]float64{"id": 0.5}
		ps, notes, err := CurvesFromMetrics([]RunMetrics{{"eos", a}, {"token", b}})
		if err != nil || len(notes) > 0 {
			t.Fatalf("err %v, notes %q", err, notes)
		}
		want := append(slices.Clone(ten), "mean Δ_t, content", "mean Δ_t at <eos>", "rollout exact match", "greedy EM, id")
		if got := panelTitles(ps); !slices.Equal(got, want) {
			t.Errorf("panels %q\nwant %q", got, want)
		}
		for _, p := range ps[:len(ps)-2] {
			if got := seriesNames(p); !slices.Equal(got, []string{"eos", "token"}) {
				t.Errorf("panel %q series %q, want one per run", p.Title, got)
			}
		}
		// Only run "eos" knows the answers; only "token" evaluated.
		if got := seriesNames(panelByTitle(t, ps, "rollout exact match")); !slices.Equal(got, []string{"eos"}) {
			t.Errorf("rollout EM series %q", got)
		}
		if got := seriesNames(panelByTitle(t, ps, "greedy EM, id")); !slices.Equal(got, []string{"token"}) {
			t.Errorf("eval EM series %q", got)
		}
	})

	for _, tc := range []struct {
		name string
		runs []RunMetrics
		want string
	}{
		{"no runs", nil, "no runs"},
		{"no name", []RunMetrics{{"", metricsAt(0)}}, "run 0 has no name"},
		{"same name", []RunMetrics{{"eos", metricsAt(0)}, {"eos", metricsAt(0)}}, `run name "eos" appears twice`},
		{"no iterations", []RunMetrics{{"eos", metricsAt(0)}, {"token", nil}}, `run "token" has no iterations`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := CurvesFromMetrics(tc.runs)
			wantErr(t, err, tc.want)
		})
	}
}

func TestEpochLossesFromTrainResult(t *testing.T) {
	res := srppo.TrainResult{BestEpoch: 1, Curve: []srppo.EpochStat{
		{Epoch: 0, TrainLoss: 2, HeldOut: 2.5}, {Epoch: 1, TrainLoss: 1, HeldOut: 1.5}, {Epoch: 2, TrainLoss: 0.5, HeldOut: 1.7}}}
	l, err := EpochLossesFromTrainResult(res)
	want := EpochLosses{Epoch: []int{1, 2, 3}, Train: []float64{2, 1, 0.5}, HeldOut: []float64{2.5, 1.5, 1.7}, Best: 2}
	if err != nil || !reflect.DeepEqual(l, want) {
		t.Errorf("got %+v, %v\nwant %+v", l, err, want)
	}
	noHeld := res
	noHeld.Curve = slices.Clone(res.Curve)
	noHeld.Curve[0].HeldOut = srppo.Float(nan)
	badBest := res
	badBest.BestEpoch = 7
	for _, tc := range []struct {
		name string
		res  srppo.TrainResult
		want string
	}{
		{"empty", srppo.TrainResult{}, "no epochs"},
		{"no held-out", noHeld, "no held-out loss at epoch 1 (index 0)"},
		{"best not in curve", badBest, "best epoch 8 is not in its curve (epochs 1–3)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := EpochLossesFromTrainResult(tc.res)
			wantErr(t, err, tc.want)
		})
	}
}

// scoredRow is a hand-made row after the Advantages stage.
func scoredRow() srppo.RolloutRow {
	return srppo.RolloutRow{
		Prompt: "REV a b", Split: "id", Tokens: []int32{7, 6, 2}, Words: []string{"b", "a", "<eos>"},
		LogpSFT: []float32{-0.5, -0.25, -1}, LogpPT: []float32{-2, -1, -8}, Delta: []float32{1.5, 0.75, 7},
		KL: []float32{0, 0.5, 0.25}, Values: []float32{3, 2, 1}, Advantages: []float32{0.5, -0.5, 1},
		Coherent: 9.25, Stopped: true,
	}
}

func TestTokenViewFromRow(t *testing.T) {
	v, err := TokenViewFromRow(scoredRow(), "title")
	want := TokenView{Title: "title", Tokens: []string{"b", "a", "<eos>"}, Delta: []float64{1.5, 0.75, 7}, Rows: []TokenRow{
		{"log π_sft", []float64{-0.5, -0.25, -1}}, {"log π_pt", []float64{-2, -1, -8}}, {"KL_t", []float64{0, 0.5, 0.25}},
		{"value", []float64{3, 2, 1}}, {"advantage", []float64{0.5, -0.5, 1}}}}
	if err != nil || !reflect.DeepEqual(v, want) {
		t.Errorf("got %+v, %v\nwant %+v", v, err, want)
	}

	// Only the rows present; token ids when Words does not match the tokens.
	r := scoredRow()
	r.Values, r.Advantages, r.KL, r.Words = nil, nil, nil, []string{"b a"}
	v, err = TokenViewFromRow(r, "t")
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, row := range v.Rows {
		labels = append(labels, row.Label)
	}
	if !slices.Equal(labels, []string{"log π_sft", "log π_pt"}) || !slices.Equal(v.Tokens, []string{"#7", "#6", "#2"}) {
		t.Errorf("rows %q, tokens %q", labels, v.Tokens)
	}

	noDelta, short, shortAdv, empty := scoredRow(), scoredRow(), scoredRow(), srppo.RolloutRow{}
	noDelta.Delta = nil
	short.Delta = short.Delta[:2]
	shortAdv.Advantages = shortAdv.Advantages[:1]
	for _, tc := range []struct {
		name string
		row  srppo.RolloutRow
		want string
	}{
		{"not scored", noDelta, `rollout row "x" has no Δ_t: the rollout is not scored`},
		{"short delta", short, `rollout row "x" has 3 tokens but 2 Δ_t values`},
		{"short advantages", shortAdv, `rollout row "x" has 3 tokens but 1 advantage values`},
		{"no tokens", empty, `rollout row "x" has no tokens`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := TokenViewFromRow(tc.row, "x")
			wantErr(t, err, tc.want)
		})
	}
}

func TestTokenViewsFromRollout(t *testing.T) {
	r := &srppo.Rollout{Iteration: 7, Stage: srppo.StageAdvantages}
	for i, c := range []float64{1, 5, 3, 2, 4} {
		row := scoredRow()
		row.Prompt, row.Coherent = "p"+string(rune('0'+i)), c
		if i == 3 { // the longest, truncated
			row.Tokens, row.Words = append(row.Tokens, 9), append(row.Words, "x")
			row.Delta, row.Truncated = append(row.Delta, 0), true
			row.LogpSFT, row.LogpPT, row.KL, row.Values, row.Advantages = nil, nil, nil, nil, nil
		}
		r.Rows = append(r.Rows, row)
	}
	views, err := TokenViewsFromRollout(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, v := range views {
		titles = append(titles, v.Title)
	}
	want := []string{"row 1 (highest r) [id] p1", "row 2 (median r) [id] p2", "row 0 (lowest r) [id] p0", "row 3 (longest, truncated) [id] p3"}
	if !slices.Equal(titles, want) {
		t.Errorf("titles %q\nwant %q", titles, want)
	}
	if views, err := TokenViewsFromRollout(r, 1); err != nil || len(views) != 1 {
		t.Errorf("n = 1: %d views, %v", len(views), err)
	}
	unscored := &srppo.Rollout{Iteration: 3, Stage: srppo.StageRollout, Rows: r.Rows}
	_, err = TokenViewsFromRollout(unscored, 0)
	wantErr(t, err, `rollout of iteration 3 is at stage "rollout"`)
	_, err = TokenViewsFromRollout(&srppo.Rollout{}, 0)
	wantErr(t, err, "rollout has no rows")
}

func TestLengthRunsFromMetrics(t *testing.T) {
	a, b := metricsAt(0, 1, 2), metricsAt(0, 2)
	b[1].Lengths = nil // an old log without lengths
	for _, tc := range []struct {
		name  string
		iters []int
		want  []LengthRun
		notes int
	}{
		{"chosen", []int{0, 2}, []LengthRun{
			{"eos", []LengthHist{{0, []int{4, 6}}, {2, []int{6, 8}}}},
			{"token", []LengthHist{{0, []int{4, 6}}}}}, 0},
		{"all", nil, []LengthRun{
			{"eos", []LengthHist{{0, []int{4, 6}}, {1, []int{5, 7}}, {2, []int{6, 8}}}},
			{"token", []LengthHist{{0, []int{4, 6}}}}}, 0},
		{"one run lacks them", []int{1, 2}, []LengthRun{
			{"eos", []LengthHist{{1, []int{5, 7}}, {2, []int{6, 8}}}}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, notes, err := LengthRunsFromMetrics([]RunMetrics{{"eos", a}, {"token", b}}, tc.iters)
			if err != nil || !reflect.DeepEqual(got, tc.want) || len(notes) != tc.notes {
				t.Errorf("got %+v, notes %q, %v\nwant %+v", got, notes, err, tc.want)
			}
		})
	}
	_, _, err := LengthRunsFromMetrics([]RunMetrics{{"eos", a}}, []int{9})
	wantErr(t, err, "no run has response lengths at iterations [9]")
}

func TestMeanLengthsFromMetrics(t *testing.T) {
	a := metricsAt(0, 1, 2)
	a[1].LengthStd = nan
	got, notes, err := MeanLengthsFromMetrics([]RunMetrics{{"eos", a}, {"token", metricsAt(0)}})
	want := []MeanSD{{"eos", []float64{0, 2}, []float64{5, 7}, []float64{1, 1}}, {"token", []float64{0}, []float64{5}, []float64{1}}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, %v\nwant %+v", got, err, want)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], `run "eos": undefined at 1 of 3 iterations (1)`) {
		t.Errorf("notes %q", notes)
	}
	_, _, err = MeanLengthsFromMetrics(nil)
	wantErr(t, err, "no runs")
}

func TestRewardLengthFromRollout(t *testing.T) {
	long := scoredRow()
	long.Tokens, long.Coherent = []int32{1, 2, 3, 4, 5}, -2
	r := &srppo.Rollout{Stage: srppo.StageScored, Rows: []srppo.RolloutRow{scoredRow(), long}}
	l, rw, err := RewardLengthFromRollout(r)
	if err != nil || !slices.Equal(l, []float64{3, 5}) || !slices.Equal(rw, []float64{9.25, -2}) {
		t.Errorf("lengths %v, rewards %v, %v", l, rw, err)
	}
	r.Stage = srppo.StageRollout
	_, _, err = RewardLengthFromRollout(r)
	wantErr(t, err, `at stage "rollout": it has no rewards yet`)
	_, _, err = RewardLengthFromRollout(nil)
	wantErr(t, err, "rollout has no rows")
}

func TestRewardLengthFromCompletions(t *testing.T) {
	c := func(it, l int, r float64) CompletionLine { return CompletionLine{Iteration: it, Reward: r, Length: l} }
	// Iteration 1 ran twice in a row (interrupted after its completions were appended, then
	// resumed): both attempts form one block, and only with the number of rows known is the
	// first attempt (lengths 9, 9) left out.
	cs := []CompletionLine{c(0, 3, 1), c(0, 4, 2), c(1, 9, 9), c(1, 9, 9), c(1, 5, 3), c(1, 6, 4)}
	for _, tc := range []struct {
		name       string
		it, rows   int
		wantL      []float64
		wantR      []float64
		wantIt     int
		wantErrMsg string
	}{
		{"last, rows known", -1, 2, []float64{5, 6}, []float64{3, 4}, 1, ""},
		{"last, rows unknown", -1, 0, []float64{9, 9, 5, 6}, []float64{9, 9, 3, 4}, 1, ""},
		{"first", 0, 0, []float64{3, 4}, []float64{1, 2}, 0, ""},
		{"missing", 5, 0, nil, nil, 5, "no completions at iteration 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, r, it, err := RewardLengthFromCompletions(cs, tc.it, tc.rows)
			if tc.wantErrMsg != "" {
				wantErr(t, err, tc.wantErrMsg)
				return
			}
			if err != nil || it != tc.wantIt || !slices.Equal(l, tc.wantL) || !slices.Equal(r, tc.wantR) {
				t.Errorf("got %v %v it %d, %v; want %v %v it %d", l, r, it, err, tc.wantL, tc.wantR, tc.wantIt)
			}
		})
	}
	// Separate blocks of one iteration: the last block is kept.
	split := []CompletionLine{c(3, 1, 1), c(2, 2, 2), c(3, 7, 7)}
	if l, _, it, err := RewardLengthFromCompletions(split, 3, 0); err != nil || it != 3 || !slices.Equal(l, []float64{7}) {
		t.Errorf("last block: %v it %d, %v", l, it, err)
	}
	_, _, _, err := RewardLengthFromCompletions(nil, -1, 0)
	wantErr(t, err, "no completions")
}

func TestReadCompletions(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "completions.jsonl")
	data := `{"iteration": 0, "prompt": "REV a", "response": "a <eos>", "reward": 1.5, "kl": 0.1, "length": 2, "stopped": true}

{"iteration": 1, "reward": -0.5, "length": 7}
`
	if err := os.WriteFile(good, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	cs, err := ReadCompletions(good)
	want := []CompletionLine{{0, 1.5, 2}, {1, -0.5, 7}}
	if err != nil || !reflect.DeepEqual(cs, want) {
		t.Errorf("got %+v, %v", cs, err)
	}
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte("{\"iteration\": 0}\n{\"iteration\": \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ReadCompletions(bad)
	wantErr(t, err, bad+": line 2")
	_, err = ReadCompletions(filepath.Join(dir, "none.jsonl"))
	wantErr(t, err, "none.jsonl: no such file")
}

// TestAdaptersRender checks that the adapters' outputs are valid figure inputs.
func TestAdaptersRender(t *testing.T) {
	runs := []RunMetrics{{"eos", metricsAt(0, 1, 2)}, {"token", metricsAt(0, 1)}}
	d, _, err := DashboardFromMetrics(runs[0].Metrics)
	if err != nil {
		t.Fatal(err)
	}
	panels, _, err := CurvesFromMetrics(runs)
	if err != nil {
		t.Fatal(err)
	}
	lr, _, err := LengthRunsFromMetrics(runs, []int{0, 2})
	if err != nil {
		t.Fatal(err)
	}
	msd, _, err := MeanLengthsFromMetrics(runs)
	if err != nil {
		t.Fatal(err)
	}
	el, err := EpochLossesFromTrainResult(srppo.TrainResult{Curve: []srppo.EpochStat{{Epoch: 0, TrainLoss: 1, HeldOut: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	tv, err := TokenViewFromRow(scoredRow(), "row")
	if err != nil {
		t.Fatal(err)
	}
	for name, render := range map[string]func() ([]byte, error){
		"dashboard":    func() ([]byte, error) { return PPODashboard("d", d, SVG) },
		"curves":       func() ([]byte, error) { return TrainingCurves("c", panels, 4, SVG) },
		"lengths":      func() ([]byte, error) { return LengthHistograms(lr, SVG) },
		"mean lengths": func() ([]byte, error) { return MeanLengthCurves("m", "tokens", msd, SVG) },
		"overfitting":  func() ([]byte, error) { return OverfittingCurve("o", el, SVG) },
		"tokens":       func() ([]byte, error) { return TokenRewards([]TokenView{tv}, 0, SVG) },
	} {
		if _, err := render(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
