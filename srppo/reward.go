package srppo

import (
	"fmt"
	"math"
)

// Reward placement modes (design §2): where the coherent reward Δ sits in the per-token rewards.
const (
	PlaceEOS     = "eos"      // SRPPO: Σ_t Δ_t on the last token
	PlaceToken   = "token"    // Δ_t on every token (prone to length bias)
	PlaceEOSMean = "eos_mean" // mean_t Δ_t on the last token (length-normalised ablation)
	PlaceLogpSFT = "logp_sft" // Σ_t log π_sft on the last token (no base-model baseline)
	PlaceOracle  = "oracle"   // 1 if the answer is exactly right else 0, on the last token
	PlaceZero    = "zero"     // 0 everywhere: KL penalty only
)

// PlacementModes lists every mode.
var PlacementModes = []string{PlaceEOS, PlaceToken, PlaceEOSMean, PlaceLogpSFT, PlaceOracle, PlaceZero}

// CoherentDelta is the per-token coherent reward Δ_t = log π_sft(y_t | x, y<t) − log π_pt(y_t | x, y<t).
// With clip > 0 each Δ_t is clipped to [−clip, clip].
func CoherentDelta(logpSFT, logpPT []float32, clip float64) []float32 {
	d := make([]float32, len(logpSFT))
	for t := range d {
		v := float64(logpSFT[t]) - float64(logpPT[t])
		if clip > 0 {
			v = math.Max(-clip, math.Min(clip, v))
		}
		d[t] = float32(v)
	}
	return d
}

// BaselineDelta is the per-token baseline shaping Δ'_t = Δ_t − b: with b the mean Δ per token of
// π_sft's own responses, an average extra token earns 0 and r' = r − b·T no longer grows with
// length T on average.
func BaselineDelta(delta []float32, b float64) []float32 {
	out := make([]float32, len(delta))
	for t, v := range delta {
		out[t] = float32(float64(v) - b)
	}
	return out
}

// CoherentReward is r(x, y) = Σ_t Δ_t = log π_sft(y|x) − log π_pt(y|x).
func CoherentReward(delta []float32) float64 {
	var s float64
	for _, v := range delta {
		s += float64(v)
	}
	return s
}

// lastToken returns a reward vector of length n that is zero except for value at the last token.
func lastToken(n int, value float64) []float32 {
	r := make([]float32, n)
	if n > 0 {
		r[n-1] = float32(value)
	}
	return r
}

// PlaceEOSReward is mode "eos": r_t = 0 for t < T−1 and r_{T−1} = Σ_t Δ_t (the EOS, or the last
// generated token of a truncated response).
func PlaceEOSReward(delta []float32) []float32 { return lastToken(len(delta), CoherentReward(delta)) }

// PlaceTokenReward is mode "token": r_t = Δ_t.
func PlaceTokenReward(delta []float32) []float32 { return append([]float32(nil), delta...) }

// PlaceEOSMeanReward is mode "eos_mean": r_{T−1} = (1/T)·Σ_t Δ_t, zero elsewhere.
func PlaceEOSMeanReward(delta []float32) []float32 {
	if len(delta) == 0 {
		return nil
	}
	return lastToken(len(delta), CoherentReward(delta)/float64(len(delta)))
}

// PlaceLogpSFTReward is mode "logp_sft": r_{T−1} = Σ_t log π_sft(y_t | x, y<t), zero elsewhere.
func PlaceLogpSFTReward(logpSFT []float32) []float32 {
	return lastToken(len(logpSFT), CoherentReward(logpSFT))
}

// PlaceOracleReward is mode "oracle": r_{T−1} = 1 if the response is exactly right else 0.
func PlaceOracleReward(n int, correct bool) []float32 {
	if correct {
		return lastToken(n, 1)
	}
	return make([]float32, n)
}

// PlaceZeroReward is mode "zero": r_t = 0.
func PlaceZeroReward(n int) []float32 { return make([]float32, n) }

// PlaceReward dispatches on mode. correct is only read by "oracle".
func PlaceReward(mode string, delta, logpSFT []float32, correct bool) ([]float32, error) {
	switch mode {
	case PlaceEOS:
		return PlaceEOSReward(delta), nil
	case PlaceToken:
		return PlaceTokenReward(delta), nil
	case PlaceEOSMean:
		return PlaceEOSMeanReward(delta), nil
	case PlaceLogpSFT:
		return PlaceLogpSFTReward(logpSFT), nil
	case PlaceOracle:
		return PlaceOracleReward(len(delta), correct), nil
	case PlaceZero:
		return PlaceZeroReward(len(delta)), nil
	}
	return nil, fmt.Errorf("unknown reward placement %q (want one of %v)", mode, PlacementModes)
}

// KL estimators of KL(π_θ ‖ π_ref) per sampled token y_t ~ π_θ.
const (
	KLk1 = "k1" // log π_θ(y_t) − log π_ref(y_t)
	KLk3 = "k3" // (ρ − 1) − log ρ with ρ = π_ref(y_t)/π_θ(y_t): unbiased and always ≥ 0
)

// TokenKL returns the per-token KL estimate KL_t between the policy and the reference on the
// sampled tokens, with the k1 or k3 estimator.
func TokenKL(logpPolicy, logpRef []float32, estimator string) ([]float32, error) {
	kl := make([]float32, len(logpPolicy))
	for t := range kl {
		diff := float64(logpRef[t]) - float64(logpPolicy[t]) // log ρ
		switch estimator {
		case KLk1:
			kl[t] = float32(-diff)
		case KLk3:
			kl[t] = float32(math.Expm1(diff) - diff)
		default:
			return nil, fmt.Errorf("unknown KL estimator %q (want k1 or k3)", estimator)
		}
	}
	return kl, nil
}

// TokenRewards is the per-token reward PPO maximises (design §3):
//
//	r_t = −β·KL_t + placement(Δ)_t
//
// the KL penalty to π_ref = π_sft on every token plus the placed reward of the mode.
func TokenRewards(kl, placed []float32, beta float64) []float32 {
	r := make([]float32, len(kl))
	for t := range r {
		r[t] = float32(-beta*float64(kl[t]) + float64(placed[t]))
	}
	return r
}
