// Package srppo is the algorithm of Self-Rewarding PPO (Zhang et al., COLM 2025, arXiv
// 2510.21090) on GoMLX: a GPT-style decoder (LM), its pretraining and supervised fine-tuning
// (Train), sampling, the coherent reward, and PPO with a critic, one iteration at a time
// (PPORun) or one stage at a time (PPOSteps). The study that runs it over demonstration counts,
// seeds and placements, and its tables, live in package study.
//
// Equation → function (design §2–§3):
//
//	Δ_t = log π_sft(y_t | x, y<t) − log π_pt(y_t | x, y<t)          CoherentDelta
//	r(x, y) = Σ_t Δ_t                                                CoherentReward
//	placement(Δ)_t for eos, token, eos_mean, logp_sft, oracle, zero  PlaceReward (PlaceEOSReward, …)
//	KL_t = log π_θ(y_t) − log π_ref(y_t) (k1), (ρ−1) − log ρ (k3)     TokenKL
//	r_t = −β·KL_t + placement(Δ)_t                                   TokenRewards
//	δ_t = r_t + γV_{t+1} − V_t,  A_t = δ_t + γλA_{t+1},  R_t = A_t + V_t   GAE
//	x ← (x − mean)/sd over the batch's response tokens               Whiten
//	L^CLIP = −mean_t min(ρ_t A_t, clip(ρ_t, 1±ε) A_t)                ClippedSurrogate
//	L^V = ½·mean_t max((V_t − R_t)², (V_old + clip(V_t − V_old, ±c) − R_t)²)   ClippedValueLoss
//	log π(y_t | x, y<t) under several models                          ScoreModels, ResponseLogProbs
//	rollout → score → advantages → update (one PPO iteration)        Rollout, Score, Advantages, Update
//	pass@1, pass@K, best-of-K by r, pairwise accuracy (table T3)     DiagnoseReward
//
// Files of a PPO run directory are named in files.go.
package srppo
