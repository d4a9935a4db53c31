package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gosrppo/gosrppo/datasets"
)

func init() {
	register(command{name: "world", summary: "generate the synthetic operations world as JSONL files", run: runWorld})
}

const worldDescription = `
Generate the synthetic operations world (design §4) and write its files to -out:
corpus.jsonl, demos_N.jsonl, demos_heldout.jsonl, prompts.jsonl, eval.jsonl,
tokenizer.json and world.json (the world's knobs and the seed). The same preset
and seed give byte-identical files. Prints a summary: counts per split and
operation, corpus documents and tokens, the vocabulary and two example lines
of every JSONL file.`

func runWorld(args []string) error {
	fs := newFlagSet("world", "-out DIR [-preset lean|full] [-seed S] [-n-demos N] [-corpus-docs N]", worldDescription)
	out := fs.String("out", "", "output `directory` (required); created if missing, files of the same names are replaced")
	preset := fs.String("preset", "lean", "world preset `name`: "+strings.Join(datasets.PresetNames(), " or "))
	seed := fs.Int64("seed", 1, "random seed `S` of the generator")
	nDemos := fs.Int("n-demos", 0, "write only demos_`N`.jsonl, the first N of the nested demonstrations (1 ≤ N ≤ the preset's\nlargest size); 0 writes every size of the preset. The other files do not depend on it.")
	var presetDocs []string
	for _, name := range datasets.PresetNames() {
		w, _ := datasets.Preset(name)
		presetDocs = append(presetDocs, fmt.Sprintf("%s %d", name, w.CorpusDocs))
	}
	corpusDocs := fs.Int("corpus-docs", 0, "number of corpus documents `N`; 0 keeps the preset's ("+strings.Join(presetDocs, ", ")+")")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("-out is required (see -h)")
	}
	release, err := lockOutput(*out, "world")
	if err != nil {
		return err
	}
	defer release()
	w, err := datasets.Preset(*preset)
	if err != nil {
		return err
	}
	if *corpusDocs != 0 {
		w.CorpusDocs = *corpusDocs
	}
	if largest := slices.Max(w.DemoSizes); *nDemos < 0 || *nDemos > largest {
		return fmt.Errorf("-n-demos %d: want 0 (every size) or 1..%d", *nDemos, largest)
	}

	start := time.Now()
	d, err := w.Generate(*seed)
	if err != nil {
		return err
	}
	generated := time.Since(start)
	if *nDemos > 0 {
		d.Demos = map[int][]datasets.Demo{*nDemos: d.Demos[slices.Max(w.DemoSizes)][:*nDemos]}
	}
	if err := d.WriteDir(*out); err != nil {
		return err
	}
	fmt.Printf("world %s, seed %d: generated in %.1fs, wrote %d files to %s in %.1fs\n\n",
		*preset, *seed, generated.Seconds(), len(d.Files()), *out, (time.Since(start) - generated).Seconds())
	return printWorldSummary(os.Stdout, d, *out)
}

// printWorldSummary prints the counts of d and two example lines of every JSONL file in dir.
func printWorldSummary(out io.Writer, d *datasets.WorldData, dir string) error {
	w := d.World
	fmt.Fprintf(out, "vocabulary: %d words: %s\n\n", d.Tokenizer.VocabSize(), strings.Join(d.Tokenizer.Words(), " "))

	// Corpus kinds are recognisable from the text: chat noise starts with <q>, facts end with ";",
	// noise is bare symbols.
	var tokens, longest, facts, noise, chat int
	opFacts := map[string]int{}
	for _, doc := range d.Corpus {
		words := strings.Fields(doc.Text)
		n := len(words) + 2 // <bos> and <eos>
		tokens += n
		longest = max(longest, n)
		switch {
		case words[0] == datasets.QToken:
			chat++
		case words[len(words)-1] == datasets.DocStop:
			facts++
			for _, word := range words {
				if slices.Contains(w.Ops, word) {
					opFacts[word]++
				}
			}
		default:
			noise++
		}
	}
	docs := max(len(d.Corpus), 1)
	fmt.Fprintf(out, "corpus: %d documents, %d tokens with <bos>/<eos> (mean %.1f, max %d)\n",
		len(d.Corpus), tokens, float64(tokens)/float64(docs), longest)
	fmt.Fprintf(out, "  fact documents %d (%.1f%%), noise %d (%.1f%%), chat noise %d (%.1f%%)\n  facts by operation:",
		facts, 100*float64(facts)/float64(docs), noise, 100*float64(noise)/float64(docs), chat, 100*float64(chat)/float64(docs))
	for _, op := range w.Ops {
		fmt.Fprintf(out, " %s %d", op, opFacts[op])
	}
	fmt.Fprint(out, "\n\n")

	// Prompts by split and operation; demonstrations are all id.
	type key struct{ split, op string }
	eval, pool, demos, heldOut := map[key]int{}, map[key]int{}, map[key]int{}, map[key]int{}
	opOf := func(prompt string) string { op, _, _ := strings.Cut(prompt, " "); return op }
	for _, it := range d.Eval {
		eval[key{it.Split, it.Op}]++
	}
	for _, p := range d.Prompts {
		pool[key{p.Split, opOf(p.Prompt)}]++
	}
	demoN := slices.Max(slices.Collect(maps.Keys(d.Demos)))
	for _, demo := range d.Demos[demoN] {
		demos[key{datasets.SplitID, opOf(demo.Prompt)}]++
	}
	for _, demo := range d.HeldOut {
		heldOut[key{datasets.SplitID, opOf(demo.Prompt)}]++
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "split\top\teval\tpool\tdemos_%d\theldout\t\n", demoN)
	rows := []struct {
		split string
		ops   []string
	}{{datasets.SplitID, w.InDomainOps}, {datasets.SplitOODOp, w.OODOps}, {datasets.SplitOODLen, w.InDomainOps}}
	for _, r := range rows {
		for _, op := range r.ops {
			k := key{r.split, op}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t\n", r.split, op, eval[k], pool[k], demos[k], heldOut[k])
		}
	}
	fmt.Fprintf(tw, "total\t\t%d\t%d\t%d\t%d\t\n", len(d.Eval), len(d.Prompts), len(d.Demos[demoN]), len(d.HeldOut))
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(out, "\nexamples:")
	for _, name := range d.Files() {
		if filepath.Ext(name) != ".jsonl" {
			continue
		}
		lines, err := headLines(filepath.Join(dir, name), 2)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %s\n", name)
		for _, line := range lines {
			fmt.Fprintf(out, "    %s\n", line)
		}
	}
	return nil
}

// headLines returns the first n lines of the file at path, each cut to 110 bytes.
func headLines(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for len(lines) < n && sc.Scan() {
		line := sc.Text()
		if len(line) > 110 {
			line = line[:107] + "..."
		}
		lines = append(lines, line)
	}
	return lines, sc.Err()
}
