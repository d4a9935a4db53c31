// Package study is the SRPPO study pipeline that `srppo reproduce` and notebooks 05 and 06 share:
// one set of cached stages, one on-disk layout, two doors.
//
// The reproduction (design §6): for each demonstration count N and seed, π_sft is fine-tuned from
// π_pt, the coherent reward
//
//	r(x, y) = log π_sft(y|x) − log π_pt(y|x) = Σ_t Δ_t
//
// is diagnosed before PPO (T3: does r rank a correct answer above a wrong one?), PPO runs once per
// reward placement (all of r at <eos>, Δ_t at every token, the exact-match oracle, …), and every
// final policy is evaluated greedily per split. The tables T0–T5, the pre-registered criteria (a)
// and (b) (Criteria) and RESULTS.md are rendered from the cached stages alone.
//
// The mechanism sweep (design §6b; a Budget with a SweepSpec): which conditions decide whether the
// coherent reward helps — the KL coefficient β (the KL-regularised optimum is
// π* ∝ π_sft^(1+1/β)·π_pt^(−1/β)), the reward shaping (clip, length-normalised, a per-token
// baseline Δ'_t = Δ_t − b), the SFT epoch PPO starts from, and how much π_pt knows of the chat
// format — one factor at a time, a β × exposure grid, and eos/token length runs; criteria (c) and
// (d) (CriterionC, CriterionD) choose on a validation split and report on the eval splits
// (RESULTS_sweep.md).
//
// Every stage is cached under OUT/stages/<key>.json, claimed through a lock so that several
// processes (a Slurm array, see Work and RunShard) can share one OUT, and resumed where it stopped;
// OUT/budget.json refuses an invocation whose budget differs from the one the stages were
// computed with.
package study
