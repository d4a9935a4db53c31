package study

import (
	"os"
	"path/filepath"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/srppo"
)

// LoadPromptPool reads prompts.jsonl and attaches gold answers where known: from -answers, or,
// for a built-in world (world.json beside the prompts), from the world's own operations. With a
// tokenizer, every prompt is checked to encode with it and to leave room for maxNew response tokens:
// a bad one is an error with its file and line before the first iteration, not when a rollout
// draws it. With tok but context 0, only the encoding is checked.
func LoadPromptPool(path, answersPath string, tok datasets.TextTokenizer, context, maxNew int) ([]srppo.PromptSource, error) {
	var prompts []datasets.Prompt
	err := datasets.ReadFileLines(path, func(_ int, p datasets.Prompt) error {
		if tok != nil {
			if err := srppo.CheckPrompt(tok, p.Prompt, context, maxNew); err != nil {
				return err
			}
		}
		prompts = append(prompts, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	gold := map[string]string{}
	if answersPath != "" {
		items, err := datasets.LoadEval(answersPath)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			gold[it.Prompt] = it.Answer
		}
	}
	_, worldErr := os.Stat(filepath.Join(filepath.Dir(path), datasets.WorldFile))
	pool := make([]srppo.PromptSource, len(prompts))
	for i, p := range prompts {
		ans, ok := p.Answer, p.Answer != ""
		if !ok {
			ans, ok = gold[p.Prompt]
		}
		if !ok && worldErr == nil {
			ans, _ = datasets.AnswerPrompt(p.Prompt)
		}
		pool[i] = srppo.PromptSource{Prompt: p.Prompt, Split: p.Split, Answer: ans}
	}
	return pool, nil
}
