package datasets

import (
	"slices"
	"strings"
)

// Score is the exact-match verdict on one generated response.
type Score struct {
	// Exact: the stop token was generated and the words before it equal the gold answer.
	Exact bool
	// HasEOS: the stop token was generated.
	HasEOS bool
	// Truncated: the stop token was not generated (the generation budget ran out).
	Truncated bool
	// Length is the number of tokens up to and including the first stop token, or all of them.
	Length int
}

// ScoreResponse scores generated, the decoded words a model produced after the prompt (possibly
// including the stop token and anything after it), against gold, a space-separated answer. stop is
// [EOSToken] for the chat format and [DocStop] for the document-format probe. The answer is the
// words before the first stop; words after it are ignored.
func ScoreResponse(generated []string, gold string, stop string) Score {
	end := slices.Index(generated, stop)
	if end < 0 {
		return Score{Truncated: true, Length: len(generated)}
	}
	return Score{
		Exact:  slices.Equal(generated[:end], strings.Fields(gold)),
		HasEOS: true,
		Length: end + 1,
	}
}

// ScoreTokens scores generated token ids, a model's output after the prompt, against gold: the
// answer is the text decoded from the tokens before the first stop id, compared with gold
// word by word (whitespace-normalised, so free text matches however it is spaced). Length
// counts tokens. With the word tokenizer it agrees with [ScoreResponse] on the decoded words.
func ScoreTokens(tok TextTokenizer, generated []int32, gold string, stop int32) Score {
	end := slices.Index(generated, stop)
	if end < 0 {
		return Score{Truncated: true, Length: len(generated)}
	}
	return Score{
		Exact:  slices.Equal(strings.Fields(tok.Decode(generated[:end])), strings.Fields(gold)),
		HasEOS: true,
		Length: end + 1,
	}
}
