package srppo

import (
	"fmt"
	"strings"

	"github.com/gosrppo/gosrppo/datasets"
)

// ResponseItem is a response to score with the coherent reward: a prompt and a response in
// plain text (without the chat template), and the gold answer when known ("" if not).
type ResponseItem struct {
	Prompt, Response, Answer string
}

// ScoreResponses teacher-forces each response through π_sft and π_pt and returns one row per item
// with the per-token log-probs (LogpSFT, LogpPT), Δ_t = log π_sft − log π_pt (Delta), the coherent
// reward r = Σ_t Δ_t (Coherent) and, where an answer is given, Correct. A response is scored as
// given when it contains the EOS token (<eos> for the world; what follows it is dropped);
// otherwise EOS is appended, as a finished answer. This is the reward of design §1 for any
// response, without a policy or critic.
func ScoreResponses(sft, pt *LM, items []ResponseItem) ([]RolloutRow, error) {
	rows := make([]RolloutRow, len(items))
	pairs := make([]Sequence, len(items))
	tok, eos := sft.Tokenizer, sft.Tokenizer.EOS()
	eosText := tok.Decode([]int32{eos})
	for i, it := range items {
		p, err := tok.EncodePrompt(it.Prompt)
		if err != nil {
			return nil, fmt.Errorf("item %d prompt: %w", i+1, err)
		}
		response, _, _ := strings.Cut(it.Response, eosText)
		toks, err := tok.EncodeResponse(response)
		if err != nil {
			return nil, fmt.Errorf("item %d response: %w", i+1, err)
		}
		rows[i] = RolloutRow{PromptIndex: i, Prompt: it.Prompt, PromptTokens: p, Tokens: toks, Words: datasets.TokenTexts(tok, toks),
			Text: tok.Decode(toks), Stopped: true}
		if it.Answer != "" {
			ok := datasets.ScoreTokens(tok, toks, it.Answer, eos).Exact
			rows[i].Correct = &ok
		}
		pairs[i] = PairSequence(p, toks)
	}
	lps, err := ScoreModels([]*LM{sft, pt}, pairs, 64)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		r := &rows[i]
		r.LogpSFT, r.LogpPT = lps[0][i], lps[1][i]
		r.Delta = CoherentDelta(r.LogpSFT, r.LogpPT, 0)
		r.Coherent = CoherentReward(r.Delta)
	}
	return rows, nil
}

// CompareWithGold returns, for every item of an evaluation, two responses to score with
// ScoreResponses: the gold answer, then the model's own response.
func CompareWithGold(rep *EvalReport) []ResponseItem {
	var out []ResponseItem
	for _, r := range rep.Items {
		out = append(out,
			ResponseItem{Prompt: r.Item.Prompt, Response: r.Item.Answer, Answer: r.Item.Answer},
			ResponseItem{Prompt: r.Item.Prompt, Response: r.Response, Answer: r.Item.Answer})
	}
	return out
}
