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

// RewardSamples are K temperature-1 samples of π_sft for each item, scored by the coherent reward:
// row i·K+j is sample j of item i. T3 and its length-matched variant are read from them, and so is the
// per-token baseline of the reward-shaping sweep.
type RewardSamples struct {
	Items  []datasets.EvalItem
	K      int
	Tokens [][]int32   // the sampled response, up to and including EOS
	Delta  [][]float32 // Δ_t = log π_sft − log π_pt per token
	Exact  []bool      // exact match with the item's answer (false for items without one)
	eos    int32
}

// SampleRewards samples k responses per item from sft at temperature 1 (seeded) and scores every
// token with Δ_t = log π_sft − log π_pt.
func SampleRewards(sft, pt *LM, items []datasets.EvalItem, k, maxNew, batchRows int, seed uint64) (*RewardSamples, error) {
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
	rs := &RewardSamples{Items: items, K: k, Tokens: out.Tokens, eos: eos,
		Delta: make([][]float32, len(prompts)), Exact: make([]bool, len(prompts))}
	for row := range prompts {
		rs.Delta[row] = CoherentDelta(lps[0][row], lps[1][row], 0)
		if it := items[row/k]; it.Answer != "" {
			rs.Exact[row] = datasets.ScoreTokens(sft.Tokenizer, out.Tokens[row], it.Answer, eos).Exact
		}
	}
	return rs, nil
}

// DiagnoseReward samples k responses per item from sft at temperature 1, scores them with the
// coherent reward r = log π_sft − log π_pt, and summarises per split (table T3).
func DiagnoseReward(sft, pt *LM, items []datasets.EvalItem, k, maxNew, batchRows int, seed uint64) ([]RewardDiagnostics, error) {
	rs, err := SampleRewards(sft, pt, items, k, maxNew, batchRows, seed)
	if err != nil {
		return nil, err
	}
	return rs.Diagnostics(), nil
}

// splits returns the split names in order of first appearance and the item indices of each.
func (rs *RewardSamples) splits() (order []string, itemsOf map[string][]int) {
	itemsOf = map[string][]int{}
	for i, it := range rs.Items {
		if _, ok := itemsOf[it.Split]; !ok {
			order = append(order, it.Split)
		}
		itemsOf[it.Split] = append(itemsOf[it.Split], i)
	}
	return order, itemsOf
}

// Diagnostics is table T3 per split.
func (rs *RewardSamples) Diagnostics() []RewardDiagnostics {
	k := rs.K
	order, itemsOf := rs.splits()
	res := make([]RewardDiagnostics, 0, len(order))
	for _, split := range order {
		d := RewardDiagnostics{Split: split, K: k}
		var dc, de, nc, ne, pass1, wins, pairs float64
		for _, i := range itemsOf[split] {
			d.Items++
			best, bestR := -1, math.Inf(-1)
			var rCorrect, rWrong []float64
			anyCorrect := false
			for j := range k {
				row := i*k + j
				delta := rs.Delta[row]
				r := CoherentReward(delta)
				for t, tok := range rs.Tokens[row] {
					if tok == rs.eos {
						de += float64(delta[t])
						ne++
					} else {
						dc += float64(delta[t])
						nc++
					}
				}
				if r > bestR {
					best, bestR = j, r
				}
				if rs.Exact[row] {
					anyCorrect = true
					pass1++
					rCorrect = append(rCorrect, r)
				} else {
					rWrong = append(rWrong, r)
				}
			}
			d.BestOfK += b2f(rs.Exact[i*k+best])
			d.PassK += b2f(anyCorrect)
			for _, c := range rCorrect {
				for _, w := range rWrong {
					pairs++
					if c > w {
						wins++
					}
				}
			}
		}
		n := float64(d.Items)
		d.Pass1 = pass1 / (n * float64(k))
		d.PassK /= n
		d.BestOfK /= n
		d.Pairs = int(pairs)
		d.PairwiseAcc = Float(wins / pairs) // NaN when there are no pairs
		d.DeltaContent, d.DeltaEOS = Float(dc/nc), Float(de/ne)
		res = append(res, d)
	}
	return res
}

// LengthDiagnostics separates a content signal of the coherent reward from a length signal, per
// split: does r still prefer right answers when length cannot help?
type LengthDiagnostics struct {
	Split string `json:"split"`
	// PairwiseAccSameLen is P(r(correct) > r(wrong)) over same-prompt pairs of equal token count.
	PairwiseAccSameLen Float `json:"pairwise_acc_same_len"`
	PairsSameLen       int   `json:"pairs_same_len"`
	// Slope and Intercept are the least-squares line r ≈ Intercept + Slope·T over all samples
	// of the split (T: response tokens including EOS); Corr is the correlation of r and T.
	Slope     Float `json:"slope"`
	Intercept Float `json:"intercept"`
	Corr      Float `json:"corr"`
	// PairwiseAccDetrended is P(r̃(correct) > r̃(wrong)) over all same-prompt pairs with
	// r̃ = r − Slope·T: the pairwise accuracy once the split's linear length trend is removed.
	PairwiseAccDetrended Float `json:"pairwise_acc_detrended"`
	Pairs                int   `json:"pairs"`
	// MeanDelta is the mean Δ_t over all response tokens (content and EOS).
	MeanDelta Float `json:"mean_delta"`
}

// LengthDiagnostics computes, per split, pairwise accuracy between equal-length responses and
// after regressing out the length trend.
func (rs *RewardSamples) LengthDiagnostics() []LengthDiagnostics {
	k := rs.K
	order, itemsOf := rs.splits()
	out := make([]LengthDiagnostics, 0, len(order))
	for _, split := range order {
		var n, sT, sR, sTT, sRR, sTR, sumDelta, nDelta float64
		for _, i := range itemsOf[split] {
			for j := range k {
				row := i*k + j
				T, r := float64(len(rs.Tokens[row])), CoherentReward(rs.Delta[row])
				n, sT, sR, sTT, sRR, sTR = n+1, sT+T, sR+r, sTT+T*T, sRR+r*r, sTR+T*r
				sumDelta += r
				nDelta += T
			}
		}
		varT, varR, cov := sTT/n-(sT/n)*(sT/n), sRR/n-(sR/n)*(sR/n), sTR/n-(sT/n)*(sR/n)
		slope := cov / varT // NaN when every response has the same length
		ld := LengthDiagnostics{Split: split, Slope: Float(slope), Intercept: Float(sR/n - slope*sT/n),
			Corr: Float(cov / math.Sqrt(varT*varR)), MeanDelta: Float(sumDelta / nDelta)}
		var winsSame, pairsSame, winsDet, pairs float64
		for _, i := range itemsOf[split] {
			for a := range k {
				for b := range k {
					ra, rb := i*k+a, i*k+b
					if !rs.Exact[ra] || rs.Exact[rb] {
						continue // a correct, b wrong
					}
					Ta, Tb := float64(len(rs.Tokens[ra])), float64(len(rs.Tokens[rb]))
					diff := CoherentReward(rs.Delta[ra]) - CoherentReward(rs.Delta[rb])
					pairs++
					if !math.IsNaN(slope) && diff-slope*(Ta-Tb) > 0 {
						winsDet++
					}
					if Ta == Tb {
						pairsSame++
						if diff > 0 {
							winsSame++
						}
					}
				}
			}
		}
		ld.Pairs, ld.PairsSameLen = int(pairs), int(pairsSame)
		ld.PairwiseAccSameLen = Float(winsSame / pairsSame)
		ld.PairwiseAccDetrended = Float(winsDet / pairs)
		if math.IsNaN(slope) {
			ld.PairwiseAccDetrended = Float(math.NaN())
		}
		out = append(out, ld)
	}
	return out
}

// MeanDeltaPerToken is b = Σ Δ_t / Σ T over every sampled response: the per-token baseline of the
// reward-shaping sweep (PPOConfig.DeltaBaseline), so that an average extra token of π_sft's own
// responses is worth 0 under Δ'_t = Δ_t − b.
func (rs *RewardSamples) MeanDeltaPerToken() float64 {
	var sum, n float64
	for _, d := range rs.Delta {
		sum += CoherentReward(d)
		n += float64(len(d))
	}
	return sum / n
}
