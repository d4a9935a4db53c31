package srppo

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/gosrppo/gosrppo/datasets"
)

// Evaluation formats.
const (
	// FormatChat prompts in the tokenizer's chat template ("<bos> <q> prompt <a>" for the world,
	// "Question: prompt\nAnswer:" for GPT-2) and reads the answer up to its EOS.
	FormatChat = "chat"
	// FormatDoc probes a base model in the corpus's fact format: "<bos> prompt =" and reads the
	// answer up to ";". It applies only to data whose corpus uses that template (the built-in world).
	FormatDoc = "doc"
)

// ItemResult is the outcome of one evaluation prompt (one sample).
type ItemResult struct {
	Item     datasets.EvalItem `json:"item"`
	Response string            `json:"response"` // decoded generation
	Score    datasets.Score    `json:"score"`
}

// GroupStats aggregates results over a group of items (a split, an operation, …).
type GroupStats struct {
	Group     string  `json:"group"`
	N         int     `json:"n"`
	EM        float64 `json:"em"`         // exact-match rate
	EOSRate   float64 `json:"eos_rate"`   // the stop token was generated
	TruncRate float64 `json:"trunc_rate"` // no stop token within the budget
	MeanLen   float64 `json:"mean_len"`   // tokens up to and including the stop token
}

// EvalReport is an evaluation of a model on a set of items in one format.
type EvalReport struct {
	Format  string       `json:"format"`
	Items   []ItemResult `json:"items"`
	BySplit []GroupStats `json:"by_split"`
	ByOp    []GroupStats `json:"by_op"`     // items with an "op" field
	ByOpLen []GroupStats `json:"by_op_len"` // "OP/L" groups, items with op and len
	Overall GroupStats   `json:"overall"`
}

// EvalConfig configures an evaluation run.
type EvalConfig struct {
	Format    string // FormatChat or FormatDoc
	MaxNew    int    // generation budget
	BatchRows int
	// Samples > 0 evaluates temperature-1 sampling with that many samples per item (pass@1 is the
	// mean EM); 0 is greedy decoding.
	Samples int
	Seed    uint64
}

// Evaluate generates an answer for every item and scores it by exact match.
func Evaluate(m *LM, items []datasets.EvalItem, cfg EvalConfig) (*EvalReport, error) {
	if m.Tokenizer == nil {
		return nil, fmt.Errorf("evaluate: model has no tokenizer")
	}
	stop, encode := m.Tokenizer.EOS(), m.Tokenizer.EncodePrompt
	switch cfg.Format {
	case FormatChat:
	case FormatDoc:
		word, ok := m.Tokenizer.(*datasets.Tokenizer)
		if !ok {
			return nil, fmt.Errorf("evaluate: the %q format probes the synthetic world's fact template and needs its word tokenizer", FormatDoc)
		}
		if stop, ok = word.ID(datasets.DocStop); !ok {
			return nil, fmt.Errorf("evaluate: stop word %q is not in the vocabulary", datasets.DocStop)
		}
		encode = func(prompt string) ([]int32, error) { return word.Encode(datasets.DocPrompt(prompt)) }
	default:
		return nil, fmt.Errorf("evaluate: unknown format %q (want %q or %q)", cfg.Format, FormatChat, FormatDoc)
	}
	prompts := make([][]int32, 0, len(items))
	for i, it := range items {
		ids, err := encode(it.Prompt)
		if err != nil {
			return nil, fmt.Errorf("eval item %d: %w", i+1, err)
		}
		prompts = append(prompts, ids)
	}
	samples := max(cfg.Samples, 1)
	sc := SampleConfig{MaxNew: cfg.MaxNew, Greedy: cfg.Samples == 0, Temperature: 1, StopToken: stop, BatchRows: cfg.BatchRows}
	sampler, err := m.sampler()
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xe7a1))
	rep := &EvalReport{Format: cfg.Format}
	for range samples {
		out, err := sampler.Sample(prompts, sc, rng)
		if err != nil {
			return nil, err
		}
		for i, it := range items {
			rep.Items = append(rep.Items, ItemResult{Item: it, Response: m.Tokenizer.Decode(out.Tokens[i]), Score: datasets.ScoreTokens(m.Tokenizer, out.Tokens[i], it.Answer, stop)})
		}
	}
	rep.BySplit = groupStats(rep.Items, func(it datasets.EvalItem) string { return it.Split })
	rep.ByOp = groupStats(rep.Items, func(it datasets.EvalItem) string { return it.Op })
	rep.ByOpLen = groupStats(rep.Items, func(it datasets.EvalItem) string {
		if it.Op == "" || it.Len == 0 {
			return ""
		}
		return fmt.Sprintf("%s/%d", it.Op, it.Len)
	})
	all := groupStats(rep.Items, func(datasets.EvalItem) string { return "all" })
	if len(all) == 1 {
		rep.Overall = all[0]
	}
	return rep, nil
}

// groupStats aggregates results by key (items with an empty key are skipped), groups in order
// of first appearance.
func groupStats(results []ItemResult, key func(datasets.EvalItem) string) []GroupStats {
	var order []string
	acc := map[string]*GroupStats{}
	for _, r := range results {
		k := key(r.Item)
		if k == "" {
			continue
		}
		g, ok := acc[k]
		if !ok {
			g = &GroupStats{Group: k}
			acc[k] = g
			order = append(order, k)
		}
		g.N++
		g.EM += b2f(r.Score.Exact)
		g.EOSRate += b2f(r.Score.HasEOS)
		g.TruncRate += b2f(r.Score.Truncated)
		g.MeanLen += float64(r.Score.Length)
	}
	out := make([]GroupStats, 0, len(order))
	for _, k := range order {
		g := acc[k]
		n := float64(g.N)
		g.EM, g.EOSRate, g.TruncRate, g.MeanLen = g.EM/n, g.EOSRate/n, g.TruncRate/n, g.MeanLen/n
		out = append(out, *g)
	}
	return out
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Group returns the stats of the named group, or false.
func Group(groups []GroupStats, name string) (GroupStats, bool) {
	i := slices.IndexFunc(groups, func(g GroupStats) bool { return g.Group == name })
	if i < 0 {
		return GroupStats{}, false
	}
	return groups[i], true
}

// T0 is the base-model probe of design §6: document-format EM by operation and length, and
// chat-format zero-shot EM.
type T0 struct {
	Doc  *EvalReport `json:"doc"` // nil without the world's word tokenizer with its document format ("=" and ";")
	Chat *EvalReport `json:"chat"`
	// DocInRangeEM is the mean over operations of document-format EM on items whose length occurs
	// in the "id" split (the training range of the built-in worlds; all items if there is no "id").
	DocInRangeEM float64 `json:"doc_in_range_em"`
	InRangeLens  []int   `json:"in_range_lens"`
}

// ProbeBase computes T0 with greedy decoding.
func ProbeBase(m *LM, items []datasets.EvalItem, batchRows int) (*T0, error) {
	t0 := &T0{}
	var err error
	if t0.Chat, err = Evaluate(m, items, EvalConfig{Format: FormatChat, MaxNew: 24, BatchRows: batchRows}); err != nil {
		return nil, err
	}
	word, ok := m.Tokenizer.(*datasets.Tokenizer)
	if !ok {
		return t0, nil
	}
	_, hasEq := word.ID("=")
	_, hasStop := word.ID(datasets.DocStop)
	if !hasEq || !hasStop {
		return t0, nil
	}
	if t0.Doc, err = Evaluate(m, items, EvalConfig{Format: FormatDoc, MaxNew: 24, BatchRows: batchRows}); err != nil {
		return nil, err
	}
	inRange := map[int]bool{}
	for _, it := range items {
		if it.Split == "id" {
			inRange[it.Len] = true
		}
	}
	byOp := map[string][2]float64{}
	var ops []string
	for _, r := range t0.Doc.Items {
		if len(inRange) > 0 && !inRange[r.Item.Len] {
			continue
		}
		if _, ok := byOp[r.Item.Op]; !ok {
			ops = append(ops, r.Item.Op)
		}
		s := byOp[r.Item.Op]
		byOp[r.Item.Op] = [2]float64{s[0] + b2f(r.Score.Exact), s[1] + 1}
	}
	for _, op := range ops {
		t0.DocInRangeEM += byOp[op][0] / byOp[op][1] / float64(len(ops))
	}
	for l := range inRange {
		t0.InRangeLens = append(t0.InRangeLens, l)
	}
	slices.Sort(t0.InRangeLens)
	return t0, nil
}

// EvalSlice returns the first n items of every split, in file order.
func EvalSlice(items []datasets.EvalItem, n int) []datasets.EvalItem {
	count := map[string]int{}
	var out []datasets.EvalItem
	for _, it := range items {
		if count[it.Split] < n {
			count[it.Split]++
			out = append(out, it)
		}
	}
	return out
}
