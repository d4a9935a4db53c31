package study

import (
	"fmt"
	"math"
	"strings"

	"github.com/gosrppo/gosrppo/srppo"
)

// Method is what produced a row of the tables: a model (π_pt, π_sft, the overfit last SFT
// epoch), a PPO variant (named by its placement mode, or a mode with a changed setting) or an
// SRPPO-eos run on another prompt pool (T4). Rows are found by Method, never by their label.
type Method string

// The methods of the study.
const (
	MethodPT      Method = "pt"       // the base model, zero-shot
	MethodSFT     Method = "sft"      // π_sft at the epoch with the lowest held-out loss (PPO starts here)
	MethodSFTLong Method = "sft-long" // π_sft at its last epoch

	MethodEOS           Method = srppo.PlaceEOS    // SRPPO: the coherent reward at <eos>
	MethodToken         Method = srppo.PlaceToken  // the coherent reward per token
	MethodOracle        Method = srppo.PlaceOracle // PPO on the true reward (exact match)
	MethodEOSMean       Method = srppo.PlaceEOSMean
	MethodLogpSFT       Method = srppo.PlaceLogpSFT
	MethodZero          Method = srppo.PlaceZero // KL penalty only: the control
	MethodTokenLambda1  Method = "token λ=1"
	MethodTokenWhitened Method = "token whitened"

	MethodPoolSFT  Method = "pool: SFT prompts" // T4: SRPPO-eos on the SFT demos' prompts
	MethodPoolID   Method = "pool: new id"      // T4: on new in-domain prompts
	MethodPoolIDOD Method = "pool: id+ood"      // T4: on the whole pool
)

// methodLabels are the T1 row labels of the methods that have one other than their name.
var methodLabels = map[Method]string{
	MethodPT: "PT zero-shot", MethodSFT: "SFT", MethodSFTLong: "SFT-long",
	MethodEOS: "SRPPO-eos", MethodToken: "SRPPO-token", MethodOracle: "oracle-PPO",
}

// Label is the method's name in T1 and in the figures.
func (m Method) Label() string {
	if l, ok := methodLabels[m]; ok {
		return l
	}
	return string(m)
}

// Mode is the PPO placement mode of a PPO method ("" for a model).
func (m Method) Mode() string {
	switch m {
	case MethodPT, MethodSFT, MethodSFTLong:
		return ""
	case MethodTokenLambda1, MethodTokenWhitened:
		return srppo.PlaceToken
	case MethodPoolSFT, MethodPoolID, MethodPoolIDOD:
		return srppo.PlaceEOS
	}
	return string(m)
}

// Key identifies a row: the demonstration count, the method and, for T3, the split.
type Key struct {
	N      int    `json:"n,omitempty"`
	Method Method `json:"method,omitempty"`
	Split  string `json:"split,omitempty"`
}

// Row is one row of a results table: its key, its label and named cells, each a mean ± sd
// over seeds.
type Row struct {
	Key   Key             `json:"key"`
	Name  string          `json:"name"`
	Cells map[string]Cell `json:"cells"`
	Order []string        `json:"order"`
}

// Cell is a mean ± sd over seeds; NaN values (undefined, e.g. no pairs to compare) are skipped
// and a cell with none is NaN (null in JSON, "–" in Markdown).
type Cell struct {
	Mean srppo.Float   `json:"mean"`
	SD   srppo.Float   `json:"sd"`
	N    int           `json:"n"`
	All  []srppo.Float `json:"values"`
}

// NewCell is the mean and sample sd of values, NaNs skipped.
func NewCell(values []float64) Cell {
	var c Cell
	var mean, ss float64
	for _, v := range values {
		c.All = append(c.All, srppo.Float(v))
		if !math.IsNaN(v) {
			mean += v
			c.N++
		}
	}
	if c.N == 0 {
		c.Mean, c.SD = srppo.Float(math.NaN()), srppo.Float(math.NaN())
		return c
	}
	mean /= float64(c.N)
	for _, v := range values {
		if !math.IsNaN(v) {
			ss += (v - mean) * (v - mean)
		}
	}
	c.Mean = srppo.Float(mean)
	if c.N > 1 {
		c.SD = srppo.Float(math.Sqrt(ss / float64(c.N-1)))
	}
	return c
}

func (r *Row) add(col string, values []float64) {
	r.Cells[col] = NewCell(values)
	r.Order = append(r.Order, col)
}

// Mean is the mean of column col, NaN when the row has no such column.
func (r Row) Mean(col string) float64 {
	if c, ok := r.Cells[col]; ok {
		return float64(c.Mean)
	}
	return math.NaN()
}

// Find is the row with key k, or an empty row (every mean NaN) with that key.
func Find(rows []Row, k Key) Row {
	for _, r := range rows {
		if r.Key == k {
			return r
		}
	}
	return Row{Key: k, Name: k.Method.Label()}
}

// EMCol is the T1/T2/T4 column of exact match on split.
func EMCol(split string) string { return split + " EM" }

// LenCol, TruncCol and EOSCol are the T2 columns at rollout iteration it.
func LenCol(it int) string   { return fmt.Sprintf("len@%d", it) }
func TruncCol(it int) string { return fmt.Sprintf("trunc%%@%d", it) }
func EOSCol(it int) string   { return fmt.Sprintf("EOS%%@%d", it) }

// Tables is what OUT/tables.json holds: every table, and everything else RESULTS.md says, so
// that RESULTS.md can be re-rendered from it alone (the golden test does).
type Tables struct {
	Budget  Budget             `json:"budget"`
	Command string             `json:"command"`
	T0      *srppo.T0          `json:"t0,omitempty"`
	T1      []Row              `json:"t1"`
	T2      []Row              `json:"t2"`
	T3      []Row              `json:"t3"`
	T4      []Row              `json:"t4,omitempty"`
	T5      []Row              `json:"t5,omitempty"`
	Seconds map[string]float64 `json:"seconds"`

	Build       string       `json:"build,omitempty"` // the build that rendered it (BuildStamp)
	BaseNote    string       `json:"base_note,omitempty"`
	Splits      []string     `json:"splits,omitempty"`
	Model       ModelShape   `json:"model"`
	Samples     int          `json:"samples"` // PPO samples per prompt
	Invocations []Invocation `json:"invocations,omitempty"`
	Figures     []string     `json:"figures,omitempty"` // relative to the figures folder
	LengthFits  []LengthFit  `json:"length_fits,omitempty"`
	// Skipped lists the stages that could not run on this data, each with the reason; RESULTS.md
	// and tables.md state them.
	Skipped []string `json:"skipped,omitempty"`
	// Note says how the record was made when not by a run (the published records of runs made
	// before tables.json recorded all of the above were rebuilt from their RESULTS.md).
	Note string `json:"note,omitempty"`
}

// ModelShape is the size of π_pt that RESULTS.md names.
type ModelShape struct {
	Layers int `json:"layers"`
	DModel int `json:"d_model"`
}

// LengthFit is the least-squares line of coherent reward against response length in the last
// rollout of one placement's seed-1 run.
type LengthFit struct {
	Mode  string  `json:"mode"`
	Slope float64 `json:"slope"`
	Corr  float64 `json:"corr"`
}

// FormatTables renders every table filled so far as Markdown (tables.md).
func FormatTables(tb *Tables) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# SRPPO reproduction (%s)\n\nCommand: `%s`. Base model: %s. %s\n\n", tb.Command, tb.Command, tb.BaseNote, seedsNote(tb.Budget.Seeds))
	for _, s := range tb.Skipped {
		fmt.Fprintf(&b, "Skipped: %s\n\n", s)
	}
	if t0 := tb.T0; t0 != nil {
		b.WriteString("## T0 — base-model probe\n\n| split | chat EM | doc EM |\n|---|---|---|\n")
		for _, g := range t0.Chat.BySplit {
			doc := "–"
			if t0.Doc != nil {
				if d, ok := srppo.Group(t0.Doc.BySplit, g.Group); ok {
					doc = fmt.Sprintf("%.3f", d.EM)
				}
			}
			fmt.Fprintf(&b, "| %s | %.3f | %s |\n", g.Group, g.EM, doc)
		}
		if t0.Doc != nil {
			fmt.Fprintf(&b, "\nDocument-format EM at in-range lengths %v, mean over operations: **%.3f**\n\n", t0.InRangeLens, t0.DocInRangeEM)
		} else {
			b.WriteString("\nDoc EM: not measured — the document-format probe needs the built-in world's `=`/`;` templates, which this data does not use.\n\n")
		}
	}
	for _, t := range []struct {
		title string
		rows  []Row
		note  string
	}{{"T1 — main results", tb.T1, ""}, {"T2 — length dynamics", tb.T2, klNote}, {"T3 — reward diagnostics before PPO", tb.T3, ""},
		{"T4 — prompt overlap (SRPPO-eos)", tb.T4, ""}, {"T5 — reward ablation", tb.T5, klNote}} {
		if len(t.rows) == 0 {
			continue
		}
		fmt.Fprintf(&b, "## %s\n\n| |", t.title)
		cols := t.rows[0].Order
		for _, c := range cols {
			fmt.Fprintf(&b, " %s |", c)
		}
		b.WriteString("\n|---|" + strings.Repeat("---|", len(cols)) + "\n")
		for _, r := range t.rows {
			fmt.Fprintf(&b, "| %s |", r.Name)
			for _, c := range cols {
				v := r.Cells[c]
				// Percentages get one decimal, rates and lengths three.
				f := "%.3f"
				if strings.Contains(c, "%") {
					f = "%.1f"
				}
				switch {
				case math.IsNaN(float64(v.Mean)):
					b.WriteString(" – |")
				case v.N > 1:
					fmt.Fprintf(&b, " "+f+" ± "+f+" |", v.Mean, v.SD)
				default:
					fmt.Fprintf(&b, " "+f+" |", v.Mean)
				}
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
		if t.note != "" {
			b.WriteString(t.note + "\n\n")
		}
	}
	return b.String()
}

// klNote says what T2's KL column is.
const klNote = "KL is the mean over responses of Σ_t KL_t to π_ref = π_sft at the last iteration, with the k1 estimator (log π_θ − log π_ref on the sampled tokens): unbiased, but a batch mean can be slightly negative; values near 0 mean the policy is still close to π_sft."

// seedsNote says what a cell is: a mean ± sd with several seeds, one seed's value otherwise.
func seedsNote(seeds int) string {
	if seeds > 1 {
		return fmt.Sprintf("Cells are mean ± sd over %d seed(s).", seeds)
	}
	return "Cells are the values of one seed (no sd)."
}
