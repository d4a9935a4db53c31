package srppo

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gosrppo/gosrppo/datasets"
)

// RewardDiagnostics is table T3 for one split: what the coherent reward knows before any PPO.
// If reranking by r does not beat pass@1 out of domain, PPO has nothing to distil.
type RewardDiagnostics struct {
	Split        string  `json:"split"`
	Items        int     `json:"items"`
	Pass1        float64 `json:"pass1"`         // mean exact match of temperature-1 samples
	PassK        float64 `json:"pass_k"`        // items with at least one exact sample among K
	BestOfK      float64 `json:"best_of_k"`     // exact match of the sample with the highest r(x, y)
	PairwiseAcc  Float   `json:"pairwise_acc"`  // P(r(correct) > r(wrong)) over same-prompt pairs (NaN: no pairs)
	Pairs        int     `json:"pairs"`         // number of such pairs
	DeltaContent Float   `json:"delta_content"` // mean Δ_t over non-<eos> tokens
	DeltaEOS     Float   `json:"delta_eos"`     // mean Δ_t on <eos>
	K            int     `json:"k"`
}

// DiagnoseReward samples k responses per item from sft at temperature 1, scores them with the
// coherent reward r = log π_sft − log π_pt, and summarises per split (table T3).
func DiagnoseReward(sft, pt *LM, items []datasets.EvalItem, k, maxNew, batchRows int, seed uint64) ([]RewardDiagnostics, error) {
	if k <= 0 {
		return nil, fmt.Errorf("diagnostics: k must be > 0")
	}
	var prompts [][]int32
	for i, it := range items {
		ids, err := sft.Tokenizer.EncodePrompt(it.Prompt)
		if err != nil {
			return nil, fmt.Errorf("eval item %d: %w", i+1, err)
		}
		for range k {
			prompts = append(prompts, ids)
		}
	}
	s, err := sft.sampler()
	if err != nil {
		return nil, err
	}
	eos := sft.Tokenizer.EOS()
	out, err := s.Sample(prompts, SampleConfig{MaxNew: maxNew, Temperature: 1, StopToken: eos, BatchRows: batchRows}, rand.New(rand.NewPCG(seed, 0xd1a9)))
	if err != nil {
		return nil, err
	}
	pairs := make([]Sequence, len(prompts))
	for i := range prompts {
		pairs[i] = PairSequence(prompts[i], out.Tokens[i])
	}
	lps, err := ScoreModels([]*LM{sft, pt}, pairs, batchRows)
	if err != nil {
		return nil, err
	}
	type acc struct {
		d                                  RewardDiagnostics
		dc, de, nc, ne, pass1, wins, pairs float64
	}
	bySplit := map[string]*acc{}
	var order []string
	for i, it := range items {
		a, ok := bySplit[it.Split]
		if !ok {
			a = &acc{d: RewardDiagnostics{Split: it.Split, K: k}}
			bySplit[it.Split] = a
			order = append(order, it.Split)
		}
		a.d.Items++
		best, bestR := -1, math.Inf(-1)
		var rCorrect, rWrong []float64
		anyCorrect := false
		for j := range k {
			row := i*k + j
			delta := CoherentDelta(lps[0][row], lps[1][row], 0)
			r := CoherentReward(delta)
			exact := datasets.ScoreTokens(sft.Tokenizer, out.Tokens[row], it.Answer, eos).Exact
			for t, tok := range out.Tokens[row] {
				if tok == eos {
					a.de += float64(delta[t])
					a.ne++
				} else {
					a.dc += float64(delta[t])
					a.nc++
				}
			}
			if r > bestR {
				best, bestR = j, r
			}
			if exact {
				anyCorrect = true
				a.pass1++
				rCorrect = append(rCorrect, r)
			} else {
				rWrong = append(rWrong, r)
			}
		}
		a.d.BestOfK += b2f(datasets.ScoreTokens(sft.Tokenizer, out.Tokens[i*k+best], it.Answer, eos).Exact)
		a.d.PassK += b2f(anyCorrect)
		for _, c := range rCorrect {
			for _, w := range rWrong {
				a.pairs++
				if c > w {
					a.wins++
				}
			}
		}
	}
	res := make([]RewardDiagnostics, 0, len(order))
	for _, split := range order {
		a := bySplit[split]
		n := float64(a.d.Items)
		a.d.Pass1 = a.pass1 / (n * float64(k))
		a.d.PassK /= n
		a.d.BestOfK /= n
		a.d.Pairs = int(a.pairs)
		a.d.PairwiseAcc = Float(a.wins / a.pairs) // NaN when there are no pairs
		a.d.DeltaContent, a.d.DeltaEOS = Float(a.dc/a.nc), Float(a.de/a.ne)
		res = append(res, a.d)
	}
	return res, nil
}
