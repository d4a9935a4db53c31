package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gosrppo/gosrppo/plotting"
	"github.com/gosrppo/gosrppo/study"
)

func init() {
	register(command{name: "plot", summary: "write the figures of a finished run (ppo, pretrain, sft) or of eval reports",
		run: func(args []string) error { return plotCommand(args, os.Stdout) }})
}

const plotDescription = `
Write every figure of a finished run directory, or of eval reports, and print each file
written. The kind of input is found from the files present:

  PPO run (DIR/metrics.jsonl, from 'srppo ppo'):
    dashboard.png         the per-iteration panels (dashboard_2.png, … for the -compare runs): reward, KL, length, EOS %, truncated %,
                          entropy, clip fraction, approx-KL, value loss, explained variance
    curves.png            the same and mean Δ (content vs <eos>), rollout and eval EM; one
                          line per run with -compare
    lengths.png           response-length histograms at -iterations, runs side by side
    mean_length.png       mean length ± sd against iteration, every run
    reward_vs_length.png  reward against length at the last iteration (completions.jsonl)
    token_rewards.png     a few rows of the last saved rollout token by token (DIR/rollout.json,
                          else the last of DIR/rollouts/*.json; skipped when there is none)
  pretrain or SFT run (DIR/pretrain.json or DIR/sft.json):
    overfitting.png       train and held-out loss per epoch, best epoch marked
  eval reports (-report FILE from 'srppo eval -report', more with -compare):
    grouped_bars.png      exact match per split (and overall), one bar per report

-compare adds PPO run directories to -run, or report files to -report; runs and reports
are named by their directory or file name (with the placement mode when the name lacks it).
Figures go to -out, by default DIR/plots (or plots beside the -report file).`

// plotCommand runs 'srppo plot' with args, printing what it writes to w.
func plotCommand(args []string, w io.Writer) error {
	fs := newFlagSet("plot", "-run DIR | -report FILE [-out DIR] [-format png|svg] [-compare A,B,…] [-iterations 0,50,100,200]", plotDescription)
	run := fs.String("run", "", "run `directory`: a 'srppo ppo' run (metrics.jsonl) or a 'srppo pretrain'/'srppo sft' output (pretrain.json, sft.json)")
	report := fs.String("report", "", "eval report `file` written by 'srppo eval -report'")
	out := fs.String("out", "", "output `directory` (default DIR/plots, or plots beside the -report file)")
	format := fs.String("format", "png", "image format: png or svg")
	compare := fs.String("compare", "", "comma-separated `list` of PPO run directories (with -run) or report files (with -report) to draw beside the first")
	iterations := fs.String("iterations", "0,50,100,200,last", "comma-separated PPO `iterations` of the length histograms; \"last\" is the last iteration; iterations no run has are skipped")
	rows := fs.Int("rows", 4, "rollout rows in token_rewards: highest, median and lowest reward, then the longest")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	f := plotting.Format(*format)
	if f != plotting.PNG && f != plotting.SVG {
		return fmt.Errorf("-format %q: want png or svg", *format)
	}
	if (*run == "") == (*report == "") {
		return errors.New("give either -run DIR or -report FILE (see -h)")
	}
	if *rows < 1 {
		return fmt.Errorf("-rows %d: want at least 1", *rows)
	}
	iters, err := parseIterations(*iterations)
	if err != nil {
		return err
	}
	var others []string
	for _, s := range strings.Split(*compare, ",") {
		if s = strings.TrimSpace(s); s != "" {
			others = append(others, s)
		}
	}
	if *report != "" {
		dir := *out
		if dir == "" {
			dir = filepath.Join(filepath.Dir(*report), "plots")
		}
		return study.NewFigureWriter(dir, f, w).Reports(append([]string{*report}, others...))
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join(*run, "plots")
	}
	return study.NewFigureWriter(dir, f, w).RunDir(*run, others, iters, *rows)
}

// lastIteration stands for "the last iteration" in a parsed -iterations list.
const lastIteration = study.LastIteration

// parseIterations parses -iterations: non-negative integers and "last".
func parseIterations(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if f == "last" {
			out = append(out, lastIteration)
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("-iterations: %q is not an iteration (want numbers ≥ 0 or \"last\", e.g. 0,50,100,200)", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("-iterations is empty (e.g. 0,50,100,200)")
	}
	return out, nil
}
