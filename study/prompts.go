package study

import (
	"os"
	"path/filepath"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/srppo"
)

// LoadPromptPool reads prompts.jsonl and attaches gold answers where known: from -answers, or,
// for a built-in world (world.json beside the prompts), from the world's own operations.
func LoadPromptPool(path, answersPath string) ([]srppo.PromptSource, error) {
	prompts, err := datasets.LoadPrompts(path)
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
