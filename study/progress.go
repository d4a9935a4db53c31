package study

import (
	"fmt"
	"slices"
	"time"
)

// Stage is one cached step of the study: a stable key (its file under OUT/stages), the stages
// it reads, and the directory it writes (empty when its result is only the stage file). A
// scheduler can run the stages whose inputs are done, in any process, on the same OUT.
type Stage struct {
	Key    string
	Inputs []string
	Dir    string
}

// Plan lists every stage of the study in the order Reproduce runs them.
func (s *Study) Plan() []Stage {
	var plan []Stage
	add := func(st Stage) {
		if !slices.ContainsFunc(plan, func(p Stage) bool { return p.Key == st.Key }) {
			plan = append(plan, st)
		}
	}
	add(Stage{Key: "t0"})
	for _, n := range s.b.Ns {
		for seed := 1; seed <= s.b.Seeds; seed++ {
			sft := fmt.Sprintf("sft-N%d-s%d", n, seed)
			add(Stage{Key: sft, Dir: s.SFTDir(n, seed)})
			add(Stage{Key: "eval-pt"})
			add(Stage{Key: fmt.Sprintf("eval-sft-N%d-s%d", n, seed), Inputs: []string{sft}})
			add(Stage{Key: fmt.Sprintf("eval-sftlong-N%d-s%d", n, seed), Inputs: []string{sft}})
			add(Stage{Key: fmt.Sprintf("t3-N%d-s%d", n, seed), Inputs: []string{sft}})
			var runs []string
			for _, m := range sortedMethods(s.variants(n)) {
				runs = append(runs, runName(m, n, seed))
			}
			if n == s.b.T2N && s.b.T4 {
				for _, m := range t4Methods {
					runs = append(runs, t4RunName(m, n, seed))
				}
				slices.Sort(runs[len(runs)-len(t4Methods):])
			}
			for _, r := range runs {
				add(Stage{Key: "ppo-" + r, Inputs: []string{sft}, Dir: s.PPODir(r)})
				add(Stage{Key: "eval-ppo-" + r, Inputs: []string{"ppo-" + r}})
			}
		}
	}
	return plan
}

// progress counts the study's stages and prints, when a stage starts computing, how many are
// done and an estimate of the time left (the mean time of the stages computed so far).
type progress struct {
	s        *Study
	total    int
	done     map[string]bool
	computed int
	seconds  float64
}

func newProgress(s *Study, plan []Stage) *progress {
	p := &progress{s: s, total: len(plan), done: map[string]bool{}}
	for _, st := range plan {
		if s.StageDone(st.Key) {
			p.done[st.Key] = true
		}
	}
	return p
}

func (p *progress) begin(key string) {
	eta := "ETA after the first stage"
	if p.computed > 0 {
		left := p.total - len(p.done)
		eta = "ETA " + (time.Duration(p.seconds/float64(p.computed)*float64(left)) * time.Second).Round(time.Second).String()
	}
	p.s.logf("stage %d/%d %s (%s)", len(p.done)+1, p.total, key, eta)
}

func (p *progress) end(key string, seconds float64) {
	p.done[key] = true
	p.computed++
	p.seconds += seconds
}
