package study

import (
	"os"
	"path/filepath"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/srppo"
)

// LoadPromptPool reads prompts.jsonl and attaches gold answers where known: from -answers, or,
// for a built-in world (world.json beside the prompts), from the world's own operations. With a
// model m, every prompt is checked to encode for it and to leave room for maxNew response tokens:
// a bad one is an error with its file and line before the first iteration, not when a rollout
// draws it.
func LoadPromptPool(path, answersPath string, m *srppo.LM, maxNew int) ([]srppo.PromptSource, error) {
	var prompts []datasets.Prompt
	err := datasets.ReadFileLines(path, func(_ int, p datasets.Prompt) error {
		if m != nil {
			if err := srppo.CheckPrompt(m.Tokenizer, p.Prompt, m.Config.Context, maxNew); err != nil {
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
