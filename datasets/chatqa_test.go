package datasets

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestValidationSplitLeavesTheRestUnchanged: the validation split is drawn last, so a world
// without it has byte-identical other parts for the same seed.
func TestValidationSplitLeavesTheRestUnchanged(t *testing.T) {
	w := small(t, "lean", 200)
	with := generate(t, w, 9)
	w.ValPerSplit = 0
	without := generate(t, w, 9)
	if len(with.Val) != 3*Lean().ValPerSplit || len(without.Val) != 0 {
		t.Fatalf("validation items: %d with, %d without", len(with.Val), len(without.Val))
	}
	with.Val, with.World.ValPerSplit = nil, 0
	if !reflect.DeepEqual(with, without) {
		t.Error("adding the validation split changed another part of the world")
	}
	if slices.Contains(without.Files(), ValFile) {
		t.Error("a world without a validation split lists val.jsonl")
	}
}

func TestChatQADocs(t *testing.T) {
	w := small(t, "lean", 0)
	d := generate(t, w, 4)
	taken := map[string]bool{}
	for _, demo := range d.Demos[slices.Max(w.DemoSizes)] {
		taken[demo.Prompt] = true
	}
	for _, demo := range d.HeldOut {
		taken[demo.Prompt] = true
	}
	for _, p := range d.Prompts {
		taken[p.Prompt] = true
	}
	for _, it := range slices.Concat(d.Eval, d.Val) {
		taken[it.Prompt] = true
	}
	const n = 2000
	for _, wrong := range []float64{0, 0.3, 1} {
		cfg := ChatQAConfig{Docs: n, Ops: w.InDomainOps, Wrong: wrong, Seed: 7}
		docs, err := d.ChatQADocs(cfg)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := d.ChatQADocs(cfg)
		if !slices.Equal(docs, again) || len(docs) != n {
			t.Fatalf("wrong=%v: %d documents, or not deterministic", wrong, len(docs))
		}
		seen := map[string]bool{}
		wrongCount := 0
		for _, doc := range docs {
			// "<q> OP args <a> answer": exactly a chat prompt and response inside <bos> … <eos>.
			q, rest, ok := strings.Cut(doc.Text, " "+AToken+" ")
			prompt, hasQ := strings.CutPrefix(q, QToken+" ")
			if !ok || !hasQ || rest == "" {
				t.Fatalf("document %q is not <q> prompt <a> answer", doc.Text)
			}
			if CorpusText(doc.Text) != ChatPrompt(prompt)+" "+ChatResponse(rest) {
				t.Fatalf("document %q: corpus form differs from the chat format", doc.Text)
			}
			if taken[prompt] || seen[prompt] {
				t.Fatalf("prompt %q repeats a demo, pool, eval or validation prompt, or another document", prompt)
			}
			seen[prompt] = true
			op, _, args := parsePrompt(t, prompt)
			if !slices.Contains(w.InDomainOps, op) {
				t.Fatalf("prompt %q: operation outside %v", prompt, w.InDomainOps)
			}
			if rest != strings.Join(refAnswer(t, op, args), " ") {
				wrongCount++
			}
		}
		// Binomial(2000, p): 5 sd is at most 112 documents.
		if got := float64(wrongCount) / n; got < wrong-0.056 || got > wrong+0.056 {
			t.Errorf("wrong=%v: %.3f of the answers are wrong", wrong, got)
		}
	}
	if _, err := d.ChatQADocs(ChatQAConfig{Docs: 1, Ops: []string{"ADD"}}); err == nil || !strings.Contains(err.Error(), `"ADD"`) {
		t.Errorf("unknown operation: error = %v", err)
	}
}
