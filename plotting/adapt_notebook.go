package plotting

import (
	"fmt"
	"strings"

	"github.com/gosrppo/gosrppo/srppo"
)

// Adapters for the notebooks (notebooks/*.ipynb), beside those of adapt_srppo.go: per-token views
// with a chosen set of rows, training logs, and evaluation reports as grouped bars.

// Per-token quantities of a srppo.RolloutRow that RolloutRowView can show as heat strips.
const (
	RowLogpSFT    = "log π_sft"
	RowLogpPT     = "log π_pt"
	RowLogpPolicy = "log π_θ"
	RowKL         = "KL_t"
	RowPlaced     = "placed Δ"
	RowReward     = "reward r_t"
	RowValue      = "value V_t"
	RowAdvantage  = "advantage A_t"
	RowReturn     = "return R_t"
)

// rowOrder is the order of RolloutRowView's rows when none are named.
var rowOrder = []string{RowLogpSFT, RowLogpPT, RowLogpPolicy, RowKL, RowPlaced, RowReward, RowValue, RowAdvantage, RowReturn}

// RolloutRowView turns one scored response into a TokenView: its words, Δ_t as bars, and the
// named per-token rows (RowLogpSFT, RowKL, RowAdvantage, …; every row the response has when none
// are named). A named row the response does not have yet (e.g. RowAdvantage before the
// Advantages stage) is an error that says so. An empty title becomes "prompt → response
// (correct/wrong, truncated)" (TokenRewards adds r = ΣΔ to every title).
func RolloutRowView(row srppo.RolloutRow, title string, rows ...string) (TokenView, error) {
	n := len(row.Tokens)
	if n == 0 {
		return TokenView{}, fmt.Errorf("plotting: response to %q has no tokens", row.Prompt)
	}
	if len(row.Delta) != n {
		return TokenView{}, fmt.Errorf("plotting: response %q has %d tokens but %d Δ_t values (score it first)", row.Text, n, len(row.Delta))
	}
	values := map[string][]float32{
		RowLogpSFT: row.LogpSFT, RowLogpPT: row.LogpPT, RowLogpPolicy: row.LogpPolicy, RowKL: row.KL,
		RowPlaced: row.Placed, RowReward: row.Rewards, RowValue: row.Values, RowAdvantage: row.Advantages, RowReturn: row.Returns,
	}
	if len(rows) == 0 {
		for _, name := range rowOrder {
			if len(values[name]) > 0 {
				rows = append(rows, name)
			}
		}
	}
	words := row.Words
	if len(words) != n {
		words = make([]string, n)
		for i, t := range row.Tokens {
			words[i] = fmt.Sprintf("#%d", t)
		}
	}
	if title == "" {
		title = fmt.Sprintf("%s → %s", row.Prompt, strings.Join(words, " "))
		var notes []string
		if row.Correct != nil {
			notes = append(notes, map[bool]string{true: "correct", false: "wrong"}[*row.Correct])
		}
		if row.Truncated {
			notes = append(notes, "truncated")
		}
		if len(notes) > 0 {
			title += "   (" + strings.Join(notes, ", ") + ")"
		}
	}
	v := TokenView{Title: title, Tokens: words, Delta: nbFloats(row.Delta)}
	for _, name := range rows {
		vals, ok := values[name]
		if !ok {
			return TokenView{}, fmt.Errorf("plotting: unknown per-token row %q (known: %s)", name, strings.Join(rowOrder, ", "))
		}
		if len(vals) != n {
			return TokenView{}, fmt.Errorf("plotting: response %q has no %q row yet (run the stage that computes it first)", row.Text, name)
		}
		v.Rows = append(v.Rows, TokenRow{Label: name, Values: nbFloats(vals)})
	}
	return v, nil
}

// RolloutRowViews is RolloutRowView with the default title for several responses.
func RolloutRowViews(rows []srppo.RolloutRow, names ...string) ([]TokenView, error) {
	views := make([]TokenView, 0, len(rows))
	for _, r := range rows {
		v, err := RolloutRowView(r, "", names...)
		if err != nil {
			return nil, err
		}
		views = append(views, v)
	}
	return views, nil
}

func nbFloats(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// EvalBars turns groups of an evaluation (EvalReport.BySplit, ByOp, …) into GroupedBars' input:
// one bar per group, in order, labelled method, with the exact-match rate in percent (metric
// "em"), the EOS rate in percent ("eos") or the mean length in tokens ("len"). SD is 0 (one seed).
func EvalBars(method string, groups []srppo.GroupStats, metric string) ([]Bar, error) {
	if len(groups) == 0 {
		return nil, fmt.Errorf("plotting: eval bars: %q has no groups", method)
	}
	var bars []Bar
	for _, g := range groups {
		var v float64
		switch metric {
		case "em":
			v = 100 * g.EM
		case "eos":
			v = 100 * g.EOSRate
		case "len":
			v = g.MeanLen
		default:
			return nil, fmt.Errorf("plotting: eval bars: unknown metric %q (em, eos or len)", metric)
		}
		bars = append(bars, Bar{Method: method, Group: g.Group, Mean: v})
	}
	return bars, nil
}
