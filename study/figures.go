package study

import (
	"fmt"
	"math"
	"path/filepath"

	"github.com/gosrppo/gosrppo/plotting"
)

// Figures renders the study's figures of its tables and runs into dir and returns their paths:
// T1 and T3 per N, T4, T2's mean length curves and the seed-1 token and eos runs side by side.
func (s *Study) Figures(dir string) ([]string, error) {
	fw := NewFigureWriter(dir, plotting.PNG, s.log())
	seeds := s.b.Seeds
	emBars := func(rows []Row, n int) []plotting.Bar {
		var bars []plotting.Bar
		for _, r := range rows {
			if r.Key.N != n {
				continue
			}
			for _, sp := range s.splits {
				c := r.Cells[EMCol(sp)]
				if !math.IsNaN(float64(c.Mean)) {
					bars = append(bars, plotting.Bar{Method: r.Key.Method.Label(), Group: sp, Mean: 100 * float64(c.Mean), SD: 100 * nanToZero(float64(c.SD))})
				}
			}
		}
		return bars
	}
	for _, n := range s.b.Ns {
		fw.write(fmt.Sprintf("t1_N%d", n), func(f plotting.Format) ([]byte, error) {
			return plotting.GroupedBars(fmt.Sprintf("T1: greedy exact match by split, N = %d demonstrations%s", n, overSeeds(seeds)), "exact match (%)", emBars(s.tables.T1, n), f)
		})
		fw.write(fmt.Sprintf("t3_N%d", n), func(f plotting.Format) ([]byte, error) {
			var bars []plotting.Bar
			for _, r := range s.tables.T3 {
				if r.Key.N != n {
					continue
				}
				for _, col := range r.Order[:3] { // pass@1, pass@K, best-of-K by r
					c := r.Cells[col]
					bars = append(bars, plotting.Bar{Method: col, Group: r.Key.Split, Mean: 100 * nanToZero(float64(c.Mean)), SD: 100 * nanToZero(float64(c.SD))})
				}
			}
			return plotting.GroupedBars(fmt.Sprintf("T3: SFT sampling before PPO, N = %d: does reranking by r beat pass@1?", n), "exact match (%)", bars, f)
		})
	}
	if len(s.tables.T4) > 0 {
		fw.write("t4_pools", func(f plotting.Format) ([]byte, error) {
			return plotting.GroupedBars(fmt.Sprintf("T4: SRPPO-eos by PPO prompt pool, N = %d", s.b.T2N), "exact match (%)", emBars(s.tables.T4, s.b.T2N), f)
		})
	}
	results := s.results[s.b.T2N]
	if len(results) == 0 {
		return fw.wrote, fw.result()
	}
	fw.write("t2_mean_length", func(f plotting.Format) ([]byte, error) {
		var curves []plotting.MeanSD
		for _, m := range sortedMethods(results[0].metrics) {
			c := plotting.MeanSD{Name: string(m)}
			for i, it := range results[0].metrics[m] {
				var per []float64
				for _, r := range results {
					if i < len(r.metrics[m]) {
						per = append(per, r.metrics[m][i].Length)
					}
				}
				mc := NewCell(per)
				c.X, c.Mean, c.SD = append(c.X, float64(it.Iteration)), append(c.Mean, float64(mc.Mean)), append(c.SD, nanToZero(float64(mc.SD)))
			}
			curves = append(curves, c)
		}
		band := ""
		if len(results) > 1 {
			band = fmt.Sprintf(" (band: sd over %d seeds)", len(results))
		}
		return plotting.MeanLengthCurves(fmt.Sprintf("T2: mean rollout length by placement mode, N = %d%s", s.b.T2N, band), "response length (tokens)", curves, f)
	})
	// The seed-1 runs of `token` and `eos` side by side: every per-iteration curve, the length
	// histograms, reward against length and the token-level rewards of token's last rollout.
	var pair []string
	for _, m := range []Method{MethodToken, MethodEOS} {
		if d, ok := results[0].dirs[m]; ok {
			pair = append(pair, d)
		}
	}
	if len(pair) > 0 {
		sub := NewFigureWriter(filepath.Join(dir, PairFigures), plotting.PNG, s.log())
		if err := sub.ppo(pair, s.b.T2At, 4); err != nil {
			return nil, err
		}
		fw.wrote, fw.failed = append(fw.wrote, sub.wrote...), append(fw.failed, sub.failed...)
	}
	return fw.wrote, fw.result()
}

// overSeeds is a figure title's note on its error bars: "± 1 sd over seeds" only when there
// are several seeds.
func overSeeds(seeds int) string {
	if seeds > 1 {
		return fmt.Sprintf(" (mean ± sd over %d seeds)", seeds)
	}
	return " (one seed)"
}

// figureRel is a figure's path relative to the figures folder: its name, under PairFigures
// for the token-vs-eos run figures.
func figureRel(path string) string {
	if filepath.Base(filepath.Dir(path)) == PairFigures {
		return filepath.Join(PairFigures, filepath.Base(path))
	}
	return filepath.Base(path)
}

func nanToZero(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return x
}
