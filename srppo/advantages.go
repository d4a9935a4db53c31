package srppo

import "math"

// GAE computes generalised advantage estimates over one response of T tokens:
//
//	δ_t = r_t + γ·V_{t+1} − V_t      (V_T = 0: the episode ends after the last token)
//	A_t = δ_t + γλ·A_{t+1}           (A_T = 0)
//	R_t = A_t + V_t                  (the critic's regression target)
func GAE(rewards, values []float32, gamma, lambda float64) (adv, returns []float32) {
	n := len(rewards)
	adv, returns = make([]float32, n), make([]float32, n)
	var next, nextValue float64
	for t := n - 1; t >= 0; t-- {
		delta := float64(rewards[t]) + gamma*nextValue - float64(values[t])
		next = delta + gamma*lambda*next
		adv[t] = float32(next)
		returns[t] = float32(next + float64(values[t]))
		nextValue = float64(values[t])
	}
	return adv, returns
}

// Whiten rescales the values of all rows together to mean 0 and standard deviation 1 (each row
// holds only real tokens, so padding never enters the statistics). With shiftMean false only the
// scale changes. It returns the mean and standard deviation used.
func Whiten(rows [][]float32, shiftMean bool) (mean, std float64) {
	var n, sum, sq float64
	for _, r := range rows {
		for _, v := range r {
			sum += float64(v)
			n++
		}
	}
	if n == 0 {
		return 0, 0
	}
	mean = sum / n
	for _, r := range rows {
		for _, v := range r {
			sq += (float64(v) - mean) * (float64(v) - mean)
		}
	}
	std = math.Sqrt(sq / n)
	for _, r := range rows {
		for i, v := range r {
			x := float64(v)
			if shiftMean {
				x -= mean
			}
			r[i] = float32(x / (std + 1e-8))
		}
	}
	return mean, std
}
