package datasets

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Files written by [WorldData.WriteDir].
const (
	CorpusFile    = "corpus.jsonl"
	HeldOutFile   = "demos_heldout.jsonl"
	PromptsFile   = "prompts.jsonl"
	EvalFile      = "eval.jsonl"
	ValFile       = "val.jsonl"
	TokenizerFile = "tokenizer.json"
	WorldFile     = "world.json"
)

// DemosFile returns the name of the file of the first n demonstrations.
func DemosFile(n int) string { return fmt.Sprintf("demos_%d.jsonl", n) }

// WorldData is a generated world.
type WorldData struct {
	World World
	Seed  int64
	// Corpus holds the pretraining documents, without <bos>/<eos>.
	Corpus []Doc
	// Demos holds the demonstrations by set size N; smaller sets are prefixes of larger ones.
	Demos map[int][]Demo
	// HeldOut holds demonstrations disjoint from Demos, for choosing the SFT epoch.
	HeldOut []Demo
	// Prompts is the PPO prompt pool, shuffled, each prompt with the split it was drawn like.
	Prompts []Prompt
	// Eval holds the evaluation items of the splits id, ood_op and ood_len, in that order.
	Eval []EvalItem
	// Val holds the validation items, drawn like Eval and disjoint from every other part.
	Val []EvalItem
	// Tokenizer covers [World.Vocabulary], so it encodes every text of the world.
	Tokenizer *Tokenizer
}

// worldFile is the JSON form of world.json.
type worldFile struct {
	Seed  int64 `json:"seed"`
	World World `json:"world"`
}

// Generate generates the world's data from seed. All randomness comes from one PCG source seeded
// with seed, so the same seed gives the same data. The parts are drawn in the order eval, demos,
// held-out demos, pool, corpus, validation, so changing the size of a later part never changes an
// earlier one (the validation split, added last, left every other file of a seed as it was).
// It fails when a split asks for more unique prompts than its operations and lengths allow.
func (w World) Generate(seed int64) (*WorldData, error) {
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("invalid world: %w", err)
	}
	g := &generator{
		w:       w,
		rng:     rand.New(rand.NewPCG(uint64(seed), 0x5352_5050_4f)), // stream constant: "SRPPO"
		symbols: slices.Sorted(slices.Values(slices.Concat(w.Digits, w.Letters))),
		used:    map[string]bool{},
		cells:   map[cellKey]*cell{},
	}
	d := &WorldData{World: w, Seed: seed, Demos: map[int][]Demo{}, Tokenizer: NewTokenizer(w.Vocabulary())}

	id := split{SplitID, w.InDomainOps, w.TrainLen, false}
	splits := []split{id, {SplitOODOp, w.OODOps, w.TrainLen, false}, {SplitOODLen, w.InDomainOps, w.OODLen, true}}
	evalItems := func(what string, n int) ([]EvalItem, error) {
		var out []EvalItem
		for _, s := range splits {
			items, err := g.draw(s, what+" "+s.name, n)
			if err != nil {
				return nil, err
			}
			for _, it := range items {
				out = append(out, EvalItem{Prompt: it.prompt, Answer: strings.Join(it.answer(), " "), Split: s.name, Op: it.op, Len: it.L})
			}
		}
		return out, nil
	}
	var err error
	if d.Eval, err = evalItems("eval split", w.EvalPerSplit); err != nil {
		return nil, err
	}

	maxN := w.DemoSizes[len(w.DemoSizes)-1]
	demos, err := g.demos(id, "demonstrations", maxN)
	if err != nil {
		return nil, err
	}
	for _, n := range w.DemoSizes {
		d.Demos[n] = demos[:n:n] // capped so that appending to one set cannot overwrite another
	}
	if d.HeldOut, err = g.demos(id, "held-out demonstrations", w.HeldOutDemos); err != nil {
		return nil, err
	}

	for i, s := range splits {
		// Thirds, the remainder going to the first splits.
		items, err := g.draw(s, "prompt pool part "+s.name, (w.PromptPool+len(splits)-1-i)/len(splits))
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			d.Prompts = append(d.Prompts, Prompt{Prompt: it.prompt, Split: s.name})
		}
	}
	g.rng.Shuffle(len(d.Prompts), func(i, j int) { d.Prompts[i], d.Prompts[j] = d.Prompts[j], d.Prompts[i] })

	d.Corpus = g.corpus()
	if d.Val, err = evalItems("validation split", w.ValPerSplit); err != nil {
		return nil, err
	}
	return d, nil
}

// split says where prompts are drawn from.
type split struct {
	name string
	ops  []string
	lens [2]int
	// lengthOOD excludes fixed-length operations (ADD), which have no out-of-domain length.
	lengthOOD bool
}

// cellKey identifies the prompts of one operation at one argument length.
type cellKey struct {
	op string
	L  int
}

// cell counts the prompts of a cellKey: how many exist (saturated at MaxInt) and how many are used.
type cell struct{ size, used int }

// item is one drawn prompt.
type item struct {
	op   string
	L    int
	args []string
	// prompt is "OP args".
	prompt string
}

func (it item) answer() []string { return opSpecs[it.op].answer(it.args) }

// generator draws the world's data from one random source.
type generator struct {
	w   World
	rng *rand.Rand
	// symbols are Digits and Letters in symbol order.
	symbols []string
	// used holds every prompt drawn so far, so that all parts are disjoint.
	used  map[string]bool
	cells map[cellKey]*cell
}

// between returns a uniform integer in the inclusive range r.
func (g *generator) between(r [2]int) int { return r[0] + g.rng.IntN(r[1]-r[0]+1) }

// alphabet returns the symbols op's arguments are drawn from.
func (g *generator) alphabet(op string) []string {
	if opSpecs[op].digitArgs || slices.Contains(g.w.DigitOps, op) {
		return g.w.Digits
	}
	return g.symbols
}

// args draws op's arguments at argument length L.
func (g *generator) args(op string, L int) []string {
	alpha := g.alphabet(op)
	args := make([]string, argCount(op, L))
	for i := range args {
		args[i] = alpha[g.rng.IntN(len(alpha))]
	}
	return args
}

// cellOf returns the counts of op's prompts at length L.
func (g *generator) cellOf(op string, L int) *cell {
	k := cellKey{op, L}
	c, ok := g.cells[k]
	if !ok {
		size := 1
		for range argCount(op, L) {
			size = satMul(size, len(g.alphabet(op)))
		}
		c = &cell{size: size}
		g.cells[k] = c
	}
	return c
}

// satAdd returns a+b for a, b ≥ 0, saturated at MaxInt.
func satAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

// satMul returns a·b for a, b ≥ 0, saturated at MaxInt.
func satMul(a, b int) int {
	if b != 0 && a > math.MaxInt/b {
		return math.MaxInt
	}
	return a * b
}

// draw draws n unused prompts of split s; what names them in errors. The operations take turns,
// so every prefix is balanced; each draws a length uniformly among those with unused prompts, and
// an operation with none left gives its turns to the others.
func (g *generator) draw(s split, what string, n int) ([]item, error) {
	type opLens struct {
		op   string
		lens []int
	}
	var choices []opLens
	free := 0
	for _, op := range s.ops {
		var lens []int
		if fixed := opSpecs[op].fixedArgs; fixed > 0 {
			if !s.lengthOOD {
				lens = []int{fixed}
			}
		} else {
			for L := s.lens[0]; L <= s.lens[1]; L++ {
				lens = append(lens, L)
			}
		}
		for _, L := range lens {
			c := g.cellOf(op, L)
			free = satAdd(free, c.size-c.used)
		}
		if len(lens) > 0 {
			choices = append(choices, opLens{op, lens})
		}
	}
	if free < n {
		return nil, fmt.Errorf("%s: need %d unique prompts but only %d unused ones exist (operations %v, lengths %v)", what, n, free, s.ops, s.lens)
	}
	items := make([]item, 0, n)
	open := make([]int, 0, s.lens[1]-s.lens[0]+1)
	for turn := 0; len(items) < n; turn++ {
		ch := choices[turn%len(choices)]
		open = open[:0]
		for _, L := range ch.lens {
			if c := g.cellOf(ch.op, L); c.used < c.size {
				open = append(open, L)
			}
		}
		if len(open) == 0 {
			continue
		}
		items = append(items, g.fresh(ch.op, open[g.rng.IntN(len(open))]))
	}
	return items, nil
}

// fresh draws an unused prompt of op at length L, which has one.
func (g *generator) fresh(op string, L int) item {
	for {
		args := g.args(op, L)
		prompt := op + " " + strings.Join(args, " ")
		if !g.used[prompt] {
			g.used[prompt] = true
			g.cellOf(op, L).used++
			return item{op: op, L: L, args: args, prompt: prompt}
		}
	}
}

// demos draws n demonstrations of split s.
func (g *generator) demos(s split, what string, n int) ([]Demo, error) {
	items, err := g.draw(s, what, n)
	if err != nil {
		return nil, err
	}
	demos := make([]Demo, len(items))
	for i, it := range items {
		demos[i] = Demo{Prompt: it.prompt, Response: strings.Join(it.answer(), " ")}
	}
	return demos, nil
}

// corpus draws the pretraining documents.
func (g *generator) corpus() []Doc {
	w := g.w
	docs := make([]Doc, w.CorpusDocs)
	var words, fact []string
	for i := range docs {
		words = words[:0]
		switch u := g.rng.Float64(); {
		case u < w.Mix.Facts:
			for range g.between(w.FactsPerDoc) {
				op := w.Ops[g.rng.IntN(len(w.Ops))]
				args := g.args(op, g.between(w.CorpusLen))
				tmpl := factTemplates[w.Templates[g.rng.IntN(len(w.Templates))]]
				fact = tmpl.write(fact[:0], op, args, opSpecs[op].answer(args))
				if len(words)+len(fact) > w.MaxDocWords {
					break
				}
				words = append(words, fact...)
			}
		case u < w.Mix.Facts+w.Mix.Noise:
			words = g.noise(words, w.NoiseLen)
		default:
			op := w.Ops[g.rng.IntN(len(w.Ops))]
			words = append(words, QToken, op)
			words = append(words, g.args(op, g.between(w.CorpusLen))...)
			words = g.noise(append(words, AToken), w.ChatNoiseLen)
		}
		docs[i] = Doc{Text: strings.Join(words, " ")}
	}
	return docs
}

// noise appends a uniform number in r of uniform symbols to dst.
func (g *generator) noise(dst []string, r [2]int) []string {
	for range g.between(r) {
		dst = append(dst, g.symbols[g.rng.IntN(len(g.symbols))])
	}
	return dst
}

// Files returns the names of the files [WorldData.WriteDir] writes, in order.
func (d *WorldData) Files() []string {
	files := []string{CorpusFile}
	for _, n := range slices.Sorted(maps.Keys(d.Demos)) {
		files = append(files, DemosFile(n))
	}
	files = append(files, HeldOutFile, PromptsFile, EvalFile)
	if len(d.Val) > 0 {
		files = append(files, ValFile)
	}
	return append(files, TokenizerFile, WorldFile)
}

// WriteDir writes the world's files to dir, creating it if needed and replacing files of the same
// names: corpus.jsonl, demos_N.jsonl for every N of Demos, demos_heldout.jsonl, prompts.jsonl,
// eval.jsonl, val.jsonl (when there is a validation split), tokenizer.json and world.json (the World and the seed). Each file is written
// atomically.
func (d *WorldData) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := func(name string) string { return filepath.Join(dir, name) }
	if err := WriteJSONL(path(CorpusFile), d.Corpus); err != nil {
		return err
	}
	for n, demos := range d.Demos {
		if err := WriteJSONL(path(DemosFile(n)), demos); err != nil {
			return err
		}
	}
	if err := WriteJSONL(path(HeldOutFile), d.HeldOut); err != nil {
		return err
	}
	if err := WriteJSONL(path(PromptsFile), d.Prompts); err != nil {
		return err
	}
	if err := WriteJSONL(path(EvalFile), d.Eval); err != nil {
		return err
	}
	if len(d.Val) > 0 {
		if err := WriteJSONL(path(ValFile), d.Val); err != nil {
			return err
		}
	}
	if err := d.Tokenizer.Save(path(TokenizerFile)); err != nil {
		return err
	}
	cfg, err := json.MarshalIndent(worldFile{Seed: d.Seed, World: d.World}, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(path(WorldFile), append(cfg, '\n'))
}
