package datasets

import (
	"strings"
	"testing"
)

func TestScoreResponse(t *testing.T) {
	// ScoreTokens must agree with ScoreResponse on the word tokenizer's ids.
	tok := BuildTokenizer("a b c d x y c b a ; REV x = 1 9 8")
	for _, tc := range []struct {
		name, generated, gold, stop string
		want                        Score
	}{
		{"exact", "a b c <eos>", "a b c", EOSToken, Score{Exact: true, HasEOS: true, Length: 4}},
		{"wrong", "a c b <eos>", "a b c", EOSToken, Score{HasEOS: true, Length: 4}},
		{"prefix of gold", "a b <eos>", "a b c", EOSToken, Score{HasEOS: true, Length: 3}},
		{"longer than gold", "a b c d <eos>", "a b c", EOSToken, Score{HasEOS: true, Length: 5}},
		{"missing eos is truncated", "a b c", "a b c", EOSToken, Score{Truncated: true, Length: 3}},
		{"text after eos ignored", "a b c <eos> x y <eos>", "a b c", EOSToken, Score{Exact: true, HasEOS: true, Length: 4}},
		{"empty generation", "", "a", EOSToken, Score{Truncated: true}},
		{"eos only", "<eos>", "a", EOSToken, Score{HasEOS: true, Length: 1}},
		{"document stop", "c b a ; REV x = x ;", "c b a", DocStop, Score{Exact: true, HasEOS: true, Length: 4}},
		{"eos is not the document stop", "c b a <eos>", "c b a", DocStop, Score{Truncated: true, Length: 4}},
		{"gold spacing ignored", "1 9 8 <eos>", " 1  9 8 ", EOSToken, Score{Exact: true, HasEOS: true, Length: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ScoreResponse(strings.Fields(tc.generated), tc.gold, tc.stop); got != tc.want {
				t.Errorf("ScoreResponse(%q, %q, %q) = %+v, want %+v", tc.generated, tc.gold, tc.stop, got, tc.want)
			}
			ids, err := tok.Encode(tc.generated)
			stop, ok := tok.ID(tc.stop)
			if err != nil || !ok {
				t.Fatal(err, ok)
			}
			if got := ScoreTokens(tok, ids, tc.gold, stop); got != tc.want {
				t.Errorf("ScoreTokens(%q, %q, %q) = %+v, want %+v", tc.generated, tc.gold, tc.stop, got, tc.want)
			}
		})
	}
}
