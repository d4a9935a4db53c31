package srppo

import (
	"math"
	"strconv"
)

// refForward is an independent plain-Go forward pass of one sequence (float64 throughout): it
// returns the logits [T][V] of tokens at positions 0…T−1, attending causally within the sequence.
func refForward(cfg Config, p map[string][]float32, tokens []int32) [][]float64 {
	d, h, dh, T := cfg.DModel, cfg.Heads, cfg.HeadDim(), len(tokens)
	x := make([][]float64, T)
	for t, tok := range tokens {
		x[t] = make([]float64, d)
		for i := range d {
			x[t][i] = float64(p["wte.weight"][int(tok)*d+i])
			if cfg.Positions == PositionsLearned {
				x[t][i] += float64(p["wpe.weight"][t*d+i])
			}
		}
	}
	ln := func(v []float64, name string) []float64 {
		var mean, vr float64
		for _, a := range v {
			mean += a
		}
		mean /= float64(len(v))
		for _, a := range v {
			vr += (a - mean) * (a - mean)
		}
		vr /= float64(len(v))
		out := make([]float64, len(v))
		for i, a := range v {
			out[i] = (a-mean)/math.Sqrt(vr+cfg.LayerNormEps)*float64(p[name+".weight"][i]) + float64(p[name+".bias"][i])
		}
		return out
	}
	linear := func(v []float64, name string, out int) []float64 { // Conv1D layout [in, out]
		w, b := p[name+".weight"], p[name+".bias"]
		res := make([]float64, out)
		for j := range out {
			s := float64(b[j])
			for i, a := range v {
				s += a * float64(w[i*out+j])
			}
			res[j] = s
		}
		return res
	}
	rope := func(v []float64, pos int) {
		half := dh / 2
		for i := range half {
			ang := float64(pos) * math.Pow(cfg.RoPEBase, -2*float64(i)/float64(dh))
			a, b := v[i], v[i+half]
			v[i] = a*math.Cos(ang) - b*math.Sin(ang)
			v[i+half] = b*math.Cos(ang) + a*math.Sin(ang)
		}
	}
	for l := range cfg.Layers {
		pre := "h." + strconv.Itoa(l) + "."
		q, k, v := make([][]float64, T), make([][]float64, T), make([][]float64, T)
		for t := range T {
			qkv := linear(ln(x[t], pre+"ln_1"), pre+"attn.c_attn", 3*d)
			q[t], k[t], v[t] = qkv[:d], qkv[d:2*d], qkv[2*d:]
			if cfg.Positions == PositionsRoPE {
				for hh := range h {
					rope(q[t][hh*dh:(hh+1)*dh], t)
					rope(k[t][hh*dh:(hh+1)*dh], t)
				}
			}
		}
		for t := range T {
			ctx := make([]float64, d)
			for hh := range h {
				scores := make([]float64, t+1)
				mx := math.Inf(-1)
				for u := 0; u <= t; u++ {
					s := 0.0
					for i := range dh {
						s += q[t][hh*dh+i] * k[u][hh*dh+i]
					}
					scores[u] = s / math.Sqrt(float64(dh))
					mx = math.Max(mx, scores[u])
				}
				var z float64
				for u := range scores {
					scores[u] = math.Exp(scores[u] - mx)
					z += scores[u]
				}
				for u := range scores {
					for i := range dh {
						ctx[hh*dh+i] += scores[u] / z * v[u][hh*dh+i]
					}
				}
			}
			proj := linear(ctx, pre+"attn.c_proj", d)
			for i := range d {
				x[t][i] += proj[i]
			}
			ff := linear(ln(x[t], pre+"ln_2"), pre+"mlp.c_fc", cfg.DFF)
			for i, a := range ff { // GELU, tanh approximation (GPT-2's gelu_new)
				ff[i] = 0.5 * a * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(a+0.044715*a*a*a)))
			}
			out := linear(ff, pre+"mlp.c_proj", d)
			for i := range d {
				x[t][i] += out[i]
			}
		}
	}
	head := p["wte.weight"]
	if !cfg.TiedEmbeddings {
		head = p["lm_head.weight"]
	}
	logits := make([][]float64, T)
	for t := range T {
		hf := ln(x[t], "ln_f")
		logits[t] = make([]float64, cfg.VocabSize)
		for vv := range cfg.VocabSize {
			for i := range d {
				logits[t][vv] += hf[i] * float64(head[vv*d+i])
			}
		}
	}
	return logits
}

// refLogSoftmax is log softmax of one row, computed naively.
func refLogSoftmax(logits []float64) []float64 {
	var z float64
	for _, l := range logits {
		z += math.Exp(l)
	}
	out := make([]float64, len(logits))
	for i, l := range logits {
		out[i] = l - math.Log(z)
	}
	return out
}
