package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/gosrppo/gosrppo/srppo"
	"github.com/gosrppo/gosrppo/study"
)

func init() {
	register(command{name: "reproduce", summary: "the whole study: world → π_pt → π_sft → PPO per mode → tables T0–T5 and figures", run: runReproduce})
}

const reproduceDescription = `
Reproduce the paper's study at toy scale (design §6). From a data directory in the JSONL
format (default: the built-in world of -preset, generated into OUT/data, starting from the
shipped base model; a -data directory is pretrained from its corpus.jsonl) it runs, for every
demonstration count N and seed of the budget: SFT (best epoch on held-out demos, and the
overfit last epoch), the reward diagnostics T3, PPO in each placement mode, and greedy
evaluation per split (splits come from eval.jsonl). It prints the tables T0–T5 (mean ± sd over
seeds) as it goes and writes OUT/tables.md and OUT/tables.json. Every stage is cached under OUT:
an interrupted run continues where it stopped.

The pipeline is the study package's (study.Reproduce); notebook 05 runs the same stages one
per cell on the same OUT, so either reuses what the other computed.

Budgets:
  quick   ≤ 20 min on 2 cores: N = 64, one seed, 25 PPO iterations of 64 prompts × 2 samples
          for eos, token and oracle, 100 eval items per split.
  grid    N = 16, 64, 1024, three seeds, every mode with 20 iterations, T2/T4/T5 at N = 64:
          51 PPO runs; 57 min on 2 cores with a GOEXPERIMENT=simd build at about 2 s per
          iteration, roughly 3× that with the plain build (-iterations goes longer).
  length  T2 over 100 iterations: eos, token and the zero-reward control at N = 64, three
          seeds (criterion (b)).
  sweep   the mechanism sweep of design §6b (RESULTS_sweep.md): N = 64, three seeds; β, reward
          shaping, the SFT epoch and π_pt's chat exposure one at a time around the defaults, a
          β × exposure grid, 20-iteration gain runs (as the grid) and 100-iteration eos/token length runs;
          the best configuration is chosen on the validation split (criteria (c) and (d)).
  sweep-small  what notebook 06 executes in CI: every sweep stage at toy sizes, one seed.
  smoke   every stage in seconds (the CI test).
  small   what notebook 05 executes in CI: the shipped base, N = 64, one seed, 4 iterations.
  full    notebook 05 at the design's sizes (the grid).
With -shard I/N the command is one of N workers sharing -out (a Slurm array task; see
scripts/slurm/): it computes the stages whose inputs are done, its own share first, then any
stage nobody has claimed, each claimed through OUT/stages/<key>.lock, and renders nothing. The
same command without -shard then finds every stage cached and writes the tables, RESULTS.md and
figures, the same bytes as a single-process run.
With -publish DIR, RESULTS.md and its figures (results/) are also written into DIR; budgets other
than grid write RESULTS_<budget>.md and results_<budget>/.`

func runReproduce(args []string) error {
	fs := newFlagSet("reproduce", "-out DIR [-data DIR] [-budget quick|grid|length|sweep|smoke|small|sweep-small|full] [-seeds S] [-preset lean|full]", reproduceDescription)
	out := fs.String("out", "", "output `directory`, required (stages are cached here; e.g. runs/quick)")
	data := fs.String("data", "", "data `directory` in the JSONL format (default: generate the built-in world of -preset)")
	budgetName := fs.String("budget", "quick", "budget: "+strings.Join(study.BudgetNames(), ", "))
	seeds := fs.Int("seeds", 0, "number of seeds `S` (0: the budget's)")
	preset := fs.String("preset", "lean", "built-in world preset when -data is not given")
	iters := fs.Int("iterations", 0, "PPO iterations per run (0: the budget's)")
	ptEpochs := fs.Int("pretrain-epochs", 0, "epochs of pretraining π_pt on a -data corpus (0: the budget's)")
	publish := fs.String("publish", "", "also write RESULTS.md and its figures (under results/) into this `directory`, e.g. the repository root")
	shardFlag := fs.String("shard", "", "run as worker `I/N` of a sharded run on a shared -out (a Slurm array task): compute ready stages, own share first, render nothing; then run once without -shard to render")
	mf := addModelFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("-out is required: the directory that caches every stage (e.g. -out runs/%s); see -h", *budgetName)
	}
	var shard study.Shard
	if *shardFlag != "" {
		sh, err := study.ParseShard(*shardFlag)
		if err != nil {
			return err
		}
		shard = sh
	}
	b, err := study.LookupBudget(*budgetName)
	if err != nil {
		return err
	}
	if *seeds > 0 {
		b.Seeds = *seeds
	}
	if *iters > 0 {
		b = b.WithIterations(*iters)
	}
	if *ptEpochs > 0 {
		b.PretrainEpoch = *ptEpochs
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ws := study.Workspace{Dir: *out, Data: *data, Preset: *preset, Command: "srppo reproduce " + strings.Join(args, " "),
		Publish: *publish, BudgetName: *budgetName, Log: os.Stdout, ModelShape: func(vocab int) srppo.Config { return mf.config(vocab) }}
	if *shardFlag != "" {
		if *publish != "" {
			return fmt.Errorf("-publish with -shard %s: a worker renders nothing; give -publish to the final run without -shard", shard)
		}
		// Workers share OUT: each stage is claimed by its own lock (OUT/stages/<key>.lock), so
		// the output directory's exclusive lock is the rendering run's only.
		return study.RunShard(ctx, ws, b, shard)
	}
	release, err := lockReproduceOutput(*out)
	if err != nil {
		return err
	}
	defer release()
	_, err = study.Reproduce(ctx, ws, b)
	return err
}
