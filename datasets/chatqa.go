package datasets

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// ChatQAConfig describes chat-format question/answer documents for continued pretraining: how much
// a base model is shown of the assistant format before SFT (the mechanism sweep's "chat exposure"
// axis, docs/design.md §6b). Real base LMs have seen question/answer text; the world's base has not.
type ChatQAConfig struct {
	Docs int      `json:"docs"` // number of documents
	Ops  []string `json:"ops"`  // operations asked about (e.g. the in-domain ones)
	// Wrong is the fraction of documents whose answer is wrong: another operation's answer on the
	// same arguments when it differs, else the arguments reversed or shifted.
	Wrong float64 `json:"wrong"`
	Seed  uint64  `json:"seed"`
}

// ChatQADocs draws cfg.Docs documents "<q> OP args <a> answer", whose corpus form
// (<bos> … <eos>) is exactly a chat-format prompt followed by its response. Arguments have
// lengths in the world's CorpusLen range; no prompt of the demonstrations, held-out
// demonstrations, pool, eval or validation split is used, so nothing reported is memorised.
func (d *WorldData) ChatQADocs(cfg ChatQAConfig) ([]Doc, error) {
	w := d.World
	if cfg.Docs < 0 || cfg.Wrong < 0 || cfg.Wrong > 1 {
		return nil, fmt.Errorf("chat Q&A documents: docs %d must be ≥ 0 and wrong %v in [0, 1]", cfg.Docs, cfg.Wrong)
	}
	if len(cfg.Ops) == 0 {
		return nil, fmt.Errorf("chat Q&A documents: no operations")
	}
	for _, op := range cfg.Ops {
		if !slices.Contains(w.Ops, op) {
			return nil, fmt.Errorf("chat Q&A documents: operation %q is not one of the world's %v", op, w.Ops)
		}
	}
	taken := map[string]bool{}
	for _, demos := range d.Demos {
		for _, x := range demos {
			taken[x.Prompt] = true
		}
	}
	for _, x := range d.HeldOut {
		taken[x.Prompt] = true
	}
	for _, p := range d.Prompts {
		taken[p.Prompt] = true
	}
	for _, it := range slices.Concat(d.Eval, d.Val) {
		taken[it.Prompt] = true
	}
	g := &generator{w: w, rng: rand.New(rand.NewPCG(cfg.Seed, 0x43_48_41_54)), // "CHAT"
		symbols: slices.Sorted(slices.Values(slices.Concat(w.Digits, w.Letters))), used: taken, cells: map[cellKey]*cell{}}
	docs := make([]Doc, 0, cfg.Docs)
	for tries := 0; len(docs) < cfg.Docs; tries++ {
		if tries > 100*cfg.Docs+1000 {
			return nil, fmt.Errorf("chat Q&A documents: only %d of %d unused prompts found for %v", len(docs), cfg.Docs, cfg.Ops)
		}
		op := cfg.Ops[g.rng.IntN(len(cfg.Ops))]
		L := g.between(w.CorpusLen)
		if fixed := opSpecs[op].fixedArgs; fixed > 0 {
			L = fixed
		}
		args := g.args(op, L)
		prompt := op + " " + strings.Join(args, " ")
		if taken[prompt] {
			continue
		}
		taken[prompt] = true
		answer := opSpecs[op].answer(args)
		if g.rng.Float64() < cfg.Wrong {
			answer = g.wrongAnswer(op, args, answer)
		}
		docs = append(docs, Doc{Text: QToken + " " + prompt + " " + AToken + " " + strings.Join(answer, " ")})
	}
	return docs, nil
}

// wrongAnswer returns an answer to op(args) that differs from right: another operation's answer
// on the same arguments where one differs, else the right answer reversed, else its first symbol
// replaced.
func (g *generator) wrongAnswer(op string, args, right []string) []string {
	others := slices.DeleteFunc(slices.Clone(g.w.Ops), func(o string) bool { return o == op })
	g.rng.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
	for _, o := range others {
		if opSpecs[o].fixedArgs > 0 && opSpecs[o].fixedArgs != len(args) {
			continue
		}
		if a := opSpecs[o].answer(args); !slices.Equal(a, right) {
			return a
		}
	}
	rev := slices.Clone(right)
	slices.Reverse(rev)
	if !slices.Equal(rev, right) {
		return rev
	}
	out := slices.Clone(right)
	for _, s := range g.symbols {
		if s != out[0] {
			out[0] = s
			break
		}
	}
	return out
}
