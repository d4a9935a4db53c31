package main

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gosrppo/gosrppo/datasets"
	"github.com/gosrppo/gosrppo/srppo"
	"github.com/gosrppo/gosrppo/study"
)

func init() {
	register(command{name: "ppo", summary: "SRPPO: PPO from π_sft with the coherent reward log π_sft − log π_pt", run: runPPO})
}

const ppoDescription = `
Train the policy π_θ (initialised from π_sft) with PPO on a prompt pool, rewarded by the
coherent reward Δ_t = log π_sft(y_t|·) − log π_pt(y_t|·) placed per -mode (eos: Σ Δ on the
last token = SRPPO; token: Δ_t on every token; eos_mean; logp_sft; oracle: exact match, needs
gold answers; zero: KL only), with a per-token KL penalty to π_sft, a critic initialised from
the SFT trunk, GAE and the clipped surrogate (design §3 defaults). Each iteration prints reward,
KL, mean length, EOS %, truncation % and, every -eval-every iterations, greedy EM on a slice of
the eval set; metrics.jsonl and completions.jsonl in OUT grow by one iteration at a time and
OUT/checkpoint lets the same command resume. The policy is written to OUT/model.

π_pt is a directory from 'srppo pretrain' (-pt), or the pretrained GPT-2 family model that
π_sft was fine-tuned from (-model NAME or -model-dir DIR, with the same -context as sft).`

func runPPO(args []string) error {
	fs := newFlagSet("ppo", "-prompts FILE (-pt DIR | -model NAME [-model-dir DIR]) -sft DIR -out DIR [-mode eos|token|…] [flags]", ppoDescription)
	d := srppo.DefaultPPOConfig(srppo.PlaceEOS)
	mode := fs.String("mode", d.Mode, "reward placement: "+strings.Join(srppo.PlacementModes, ", "))
	promptsPath := fs.String("prompts", "", "prompt pool `file` (prompts.jsonl)")
	ptDir := fs.String("pt", "", "base model π_pt `directory`")
	pre := addPretrainedFlags(fs)
	sftDir := fs.String("sft", "", "SFT model π_sft `directory` (policy, reference and critic start from it)")
	out := fs.String("out", "", "run `directory` (created; an existing run there is resumed)")
	iters := fs.Int("iterations", 200, "PPO iterations `N` in total (a resumed run continues up to N)")
	seed := fs.Uint64("seed", 1, "random `seed` of prompt draws, sampling and minibatch order")
	evalPath := fs.String("eval", "", "eval `file` (eval.jsonl) for the progress line's EM; default: eval.jsonl beside -prompts")
	evalPer := fs.Int("eval-per-split", 50, "eval items per split in the slice (0: no eval)")
	evalEvery := fs.Int("eval-every", 10, "evaluate the slice every `N` iterations")
	answers := fs.String("answers", "", "JSONL `file` with prompt/answer pairs (eval format) giving gold answers for -mode oracle and the correct % metric; a built-in world (world.json beside -prompts) answers its own prompts")
	strict := fs.Bool("strict", false, "stop at the first sanity failure instead of reporting it")
	stall := fs.Duration("stall", 10*time.Minute, "report a stall and exit if an iteration takes longer than this")
	fs.Float64Var(&d.KLBeta, "kl-beta", d.KLBeta, "per-token KL penalty β")
	fs.StringVar(&d.KLEstimator, "kl-estimator", d.KLEstimator, "KL estimator: k1 or k3")
	fs.Float64Var(&d.Gamma, "gamma", d.Gamma, "discount γ")
	fs.Float64Var(&d.Lambda, "lambda", d.Lambda, "GAE λ")
	fs.Float64Var(&d.ClipEps, "clip", d.ClipEps, "surrogate clip ε")
	fs.Float64Var(&d.ValueClip, "value-clip", d.ValueClip, "value clip")
	fs.Float64Var(&d.ValueCoef, "value-coef", d.ValueCoef, "critic loss weight")
	fs.Float64Var(&d.EntropyCoef, "entropy-coef", d.EntropyCoef, "entropy bonus (0: logged only)")
	fs.Float64Var(&d.DeltaClip, "delta-clip", d.DeltaClip, "clip Δ_t to [−c, c] (0: off)")
	fs.BoolVar(&d.WhitenRewards, "whiten-rewards", d.WhitenRewards, "whiten the placed rewards over the batch (control run)")
	noWhitenAdv := fs.Bool("no-whiten-adv", false, "do not whiten advantages")
	fs.IntVar(&d.Epochs, "ppo-epochs", d.Epochs, "PPO epochs per rollout")
	fs.IntVar(&d.Minibatch, "minibatch", d.Minibatch, "rows per minibatch")
	fs.Float64Var(&d.ActorLR, "actor-lr", d.ActorLR, "policy learning rate")
	fs.Float64Var(&d.CriticLR, "critic-lr", d.CriticLR, "critic learning rate")
	fs.Float64Var(&d.GradClip, "grad-clip", d.GradClip, "global gradient-norm clip")
	fs.IntVar(&d.Prompts, "rollout-prompts", d.Prompts, "prompts per rollout")
	fs.IntVar(&d.Samples, "samples", d.Samples, "samples per prompt")
	fs.IntVar(&d.MaxNew, "max-new", d.MaxNew, "response budget in tokens")
	fs.Float64Var(&d.Temperature, "temperature", d.Temperature, "rollout temperature")
	fs.IntVar(&d.ScoreBatch, "score-batch", d.ScoreBatch, "rows per sampling and scoring batch (lower it for large vocabularies: its logits are rows × context × vocab floats)")
	mem := addMemoryFlag(fs)
	frozenBF16 := fs.Bool("bf16-frozen", false, "store π_sft and π_pt (not trained) in bfloat16: half their memory; the policy and critic start as float32 copies of the rounded π_sft")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *promptsPath == "" || *sftDir == "" || *out == "" || (*ptDir == "") == !pre.set() {
		return errors.New("-prompts, -sft, -out and one of -pt or -model/-model-dir are required (see -h)")
	}
	d.Mode, d.WhitenAdv = *mode, !*noWhitenAdv
	dataDir := filepath.Dir(*promptsPath)
	ptName := *ptDir
	if pre.set() {
		ptName = *pre.dir
	}
	if ptName != "" && srppo.SameModel(ptName, *sftDir) {
		return fmt.Errorf("-pt %s and -sft %s are the same model: the reward log π_sft − log π_pt would be exactly 0; -pt takes the base model, -sft the model fine-tuned from it", ptName, *sftDir)
	}
	mc, err := srppo.ReadModelConfig(*sftDir, 0)
	if pre.set() {
		mc, err = pre.config()
	}
	if err != nil {
		return err
	}
	if err := mem.check(mc, srppo.MemoryJob{Kind: srppo.JobPPO, TrainRows: d.Minibatch, ScoreRows: d.ScoreBatch, WeightBytes: weightBytes(*frozenBF16)}, "srppo ppo"); err != nil {
		return err
	}
	release, err := lockOutput(*out, "ppo")
	if err != nil {
		return err
	}
	defer release()
	var pt *srppo.LM
	if pre.set() {
		var err error
		if pt, err = pre.load(); err != nil {
			return err
		}
		if err := srppo.CheckRole(pt, "-model-dir", *pre.dir, printNote, srppo.RoleBase); err != nil {
			return err
		}
	} else {
		tok, err := srppo.DataTokenizer(dataDir)
		if err != nil {
			return err
		}
		if pt, err = srppo.LoadModel(*ptDir, nil, tok); err != nil {
			return err
		}
		if err := srppo.CheckRole(pt, "-pt", *ptDir, printNote, srppo.RoleBase); err != nil {
			return err
		}
	}
	sft, err := srppo.LoadModel(*sftDir, &pt.Config, pt.Tokenizer)
	if err != nil {
		return err
	}
	if err := srppo.CheckRole(sft, "-sft", *sftDir, printNote, srppo.RoleSFT); err != nil {
		return err
	}
	if err := d.Validate(); err != nil {
		return err
	}
	if *frozenBF16 {
		for _, m := range []*srppo.LM{sft, pt} {
			if err := m.StoreBFloat16(); err != nil {
				return err
			}
		}
	}
	pool, err := study.LoadPromptPool(*promptsPath, *answers, sft.Tokenizer, sft.Config.Context, d.MaxNew)
	if err != nil {
		return err
	}
	run, err := srppo.NewPPORun(*out, d, *seed, sft, pt, pool)
	if err != nil {
		return err
	}
	if *evalPath == "" {
		*evalPath = filepath.Join(dataDir, datasets.EvalFile)
	}
	if *evalPer > 0 {
		if items, err := srppo.LoadEvalFor(*evalPath, sft.Tokenizer, sft.Config.Context, d.MaxNew); err == nil {
			run.Eval, run.EvalEvery = srppo.EvalSlice(items, *evalPer), *evalEvery
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	fmt.Printf("ppo -mode %s: %d prompts in the pool, %d eval items, iterations %d → %d, backend %s\n", d.Mode, len(pool), len(run.Eval), run.Iteration, *iters, backendName())
	fmt.Printf("%5s %8s %7s %6s %6s %6s %7s %6s %8s  %s\n", "iter", "reward", "KL", "len", "EOS%", "trunc%", "clip", "ent", "sec", "eval EM")
	wd := srppo.StartWatchdog(*stall, func(idle time.Duration, stacks []byte) {
		fmt.Fprintf(os.Stderr, "\nsrppo ppo: no iteration finished for %s — the backend looks stalled; rerun the same command to resume. Goroutines:\n%s\n", idle.Round(time.Second), stacks)
		os.Exit(3)
	})
	defer wd.Stop()
	for run.Iteration < *iters {
		m, _, err := run.Iterate()
		if err != nil {
			return err
		}
		wd.Beat()
		fmt.Printf("%5d %8.3f %7.3f %6.2f %6.1f %6.1f %7.3f %6.3f %8.1f  %s\n", m.Iteration, m.Reward, m.KL, m.Length, m.EOSPct, m.TruncPct, m.ClipFrac, m.Entropy, m.Seconds, formatEM(m.EvalEM))
		for _, s := range m.Sanity {
			fmt.Fprintf(os.Stderr, "SANITY FAILURE at iteration %d: %s\n", m.Iteration, s)
			if *strict {
				return fmt.Errorf("sanity failure at iteration %d: %s", m.Iteration, s)
			}
		}
	}
	fmt.Printf("policy written to %s; evaluate it with: srppo eval -model %s -data %s\n", filepath.Join(*out, srppo.ModelSubdir), *out, dataDir)
	return nil
}

func formatEM(em map[string]float64) string {
	if len(em) == 0 {
		return ""
	}
	var parts []string
	for _, k := range sortedKeys(em) {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, em[k]))
	}
	return strings.Join(parts, "  ")
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
