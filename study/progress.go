package study

import (
	"fmt"
	"slices"
	"strings"
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
	if s.b.Sweep != nil {
		return s.sweepPlan()
	}
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
// done and an estimate of the time left: each stage left is expected to take the mean time of
// the computed stages of its kind (sft, ppo, eval, t3, …), or of all computed stages when none of
// its kind has run yet — an SFT stage must not make every quick evaluation look like minutes.
type progress struct {
	s        *Study
	plan     []Stage
	done     map[string]bool
	computed int
	seconds  float64
	byKind   map[string][2]float64 // kind → (seconds, count)
}

func newProgress(s *Study, plan []Stage) *progress {
	p := &progress{s: s, plan: plan, done: map[string]bool{}, byKind: map[string][2]float64{}}
	for _, st := range plan {
		if s.StageDone(st.Key) {
			p.done[st.Key] = true
		}
	}
	return p
}

// stageKind is a stage key's kind: what precedes its first '-' ("eval-ppo-…" is "eval").
func stageKind(key string) string {
	kind, _, _ := strings.Cut(key, "-")
	return kind
}

func (p *progress) begin(key string) {
	for _, st := range p.plan { // other workers of a sharded run finish stages too
		if !p.done[st.Key] && p.s.StageDone(st.Key) {
			p.done[st.Key] = true
		}
	}
	eta := "ETA after the first stage"
	if p.computed > 0 {
		var left float64
		for _, st := range p.plan {
			if p.done[st.Key] || st.Key == key {
				continue
			}
			if k := p.byKind[stageKind(st.Key)]; k[1] > 0 {
				left += k[0] / k[1]
			} else {
				left += p.seconds / float64(p.computed)
			}
		}
		eta = "ETA " + (time.Duration(left) * time.Second).Round(time.Second).String() + " after this stage"
	}
	p.s.logf("stage %d/%d %s (%s)", len(p.done)+1, len(p.plan), key, eta)
}

func (p *progress) end(key string, seconds float64) {
	p.done[key] = true
	p.computed++
	p.seconds += seconds
	k := p.byKind[stageKind(key)]
	p.byKind[stageKind(key)] = [2]float64{k[0] + seconds, k[1] + 1}
}
