package plotting

import (
	"slices"
	"strings"
	"testing"

	"github.com/gosrppo/gosrppo/srppo"
)

// notebookRow is a hand-made response after the Advantages stage.
func notebookRow() srppo.RolloutRow {
	ok := true
	return srppo.RolloutRow{
		Prompt: "REV a b", Tokens: []int32{7, 6, 2}, Words: []string{"b", "a", "<eos>"}, Text: "b a <eos>",
		LogpSFT: []float32{-0.5, -0.25, -1}, LogpPT: []float32{-2, -1, -8}, Delta: []float32{1.5, 0.75, 7},
		KL: []float32{0, 0.5, 0.25}, Rewards: []float32{0, -0.025, 9.2375}, Values: []float32{3, 2, 1},
		Advantages: []float32{0.5, -0.5, 1}, Returns: []float32{3.5, 1.5, 2}, Coherent: 9.25, Stopped: true, Correct: &ok,
	}
}

func rowLabels(v TokenView) []string {
	var out []string
	for _, r := range v.Rows {
		out = append(out, r.Label)
	}
	return out
}

func TestRolloutRowView(t *testing.T) {
	v, err := RolloutRowView(notebookRow(), "", RowReward, RowAdvantage)
	if err != nil {
		t.Fatal(err)
	}
	if v.Title != "REV a b → b a <eos>   (correct)" || !slices.Equal(v.Tokens, []string{"b", "a", "<eos>"}) ||
		!slices.Equal(v.Delta, []float64{1.5, 0.75, 7}) || !slices.Equal(rowLabels(v), []string{RowReward, RowAdvantage}) ||
		!slices.Equal(v.Rows[1].Values, []float64{0.5, -0.5, 1}) {
		t.Errorf("got %+v", v)
	}
	// No names: every row the response has, in a fixed order.
	v, err = RolloutRowView(notebookRow(), "t")
	want := []string{RowLogpSFT, RowLogpPT, RowKL, RowReward, RowValue, RowAdvantage, RowReturn}
	if err != nil || v.Title != "t" || !slices.Equal(rowLabels(v), want) {
		t.Errorf("default rows %q (%v), want %q", rowLabels(v), err, want)
	}
	r := notebookRow()
	r.Words, r.Truncated, r.Correct = nil, true, nil
	if v, _ := RolloutRowView(r, ""); !slices.Equal(v.Tokens, []string{"#7", "#6", "#2"}) || !strings.HasSuffix(v.Title, "#2   (truncated)") {
		t.Errorf("tokens %q, title %q", v.Tokens, v.Title)
	}

	unscored, noAdv := notebookRow(), notebookRow()
	unscored.Delta, noAdv.Advantages = nil, nil
	for _, tc := range []struct {
		row  srppo.RolloutRow
		rows []string
		want string
	}{
		{unscored, nil, "has 3 tokens but 0 Δ_t values (score it first)"},
		{noAdv, []string{RowAdvantage}, `has no "advantage A_t" row yet`},
		{notebookRow(), []string{"nope"}, `unknown per-token row "nope"`},
		{srppo.RolloutRow{Prompt: "p"}, nil, `response to "p" has no tokens`},
	} {
		if _, err := RolloutRowView(tc.row, "", tc.rows...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
	views, err := RolloutRowViews([]srppo.RolloutRow{notebookRow(), notebookRow()}, RowKL)
	if err != nil || len(views) != 2 {
		t.Fatalf("%d views, %v", len(views), err)
	}
	if _, err := TokenRewards(views, 0, SVG); err != nil {
		t.Error(err)
	}
}

func TestEvalBars(t *testing.T) {
	rep := &srppo.EvalReport{BySplit: []srppo.GroupStats{{Group: "id", EM: 0.5, EOSRate: 1, MeanLen: 3}, {Group: "ood_op", EM: 0.25, EOSRate: 0.5, MeanLen: 4}}}
	for metric, want := range map[string][]float64{"em": {50, 25}, "eos": {100, 50}, "len": {3, 4}} {
		bars, err := EvalBars("SFT", rep.BySplit, metric)
		if err != nil || len(bars) != 2 || bars[0].Mean != want[0] || bars[1].Mean != want[1] || bars[1].Group != "ood_op" || bars[0].Method != "SFT" {
			t.Errorf("%s: %+v, %v", metric, bars, err)
		}
	}
	if _, err := EvalBars("SFT", rep.BySplit, "f1"); err == nil {
		t.Error("unknown metric: no error")
	}
	if _, err := EvalBars("SFT", nil, "em"); err == nil {
		t.Error("empty report: no error")
	}
	bars, err := EvalBars("SFT", rep.BySplit, "em")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := GroupedBars("T1", "EM (%)", bars, SVG); err != nil {
		t.Error(err)
	}
}
