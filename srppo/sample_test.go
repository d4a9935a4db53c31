package srppo

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gosrppo/gosrppo/datasets"
)

// fullLogSoftmax returns log softmax over the vocabulary at every column of a one-sequence-per-row
// batch, by the full (uncached) forward pass: out[row][col][v].
func fullLogSoftmax(t *testing.T, m *LM, seqs [][]int32) [][][]float32 {
	t.Helper()
	backend, err := Backend()
	if err != nil {
		t.Fatal(err)
	}
	var ss []Sequence
	for _, s := range seqs {
		ss = append(ss, Sequence{Tokens: append(slices.Clone(s), 0)}) // dummy final target
	}
	bt, err := OneSequencePerRow(ss, len(ss), m.Config.Context)
	if err != nil {
		t.Fatal(err)
	}
	out, err := model.CallOnce(backend, m.store, func(scope *model.Scope, in []*Node) *Node {
		_, logits := m.teacherForced(in[0].Graph(), batchNodesOf(in))
		return LogSoftmax(logits, -1)
	}, batchInputs(bt)...)
	if err != nil {
		t.Fatal(err)
	}
	flat := tensors.MustCopyFlatData[float32](out)
	v, T := m.Config.VocabSize, m.Config.Context
	res := make([][][]float32, len(seqs))
	for r := range seqs {
		for c := range len(seqs[r]) {
			res[r] = append(res[r], flat[(r*T+c)*v:(r*T+c+1)*v])
		}
	}
	return res
}

func TestCachedDecodingMatchesFullForward(t *testing.T) {
	for _, pos := range []string{PositionsLearned, PositionsRoPE} {
		t.Run(pos, func(t *testing.T) {
			m := randomizedLM(t, tinyConfig(pos), 11)
			s, err := NewSampler(m)
			if err != nil {
				t.Fatal(err)
			}
			prompts := [][]int32{{1, 3, 5, 6, 4}, {1, 3, 7, 4}, {1, 3, 8, 9, 10, 4}}
			// Walk the cache by hand to compare whole distributions at every step.
			const b = 4
			width := 8
			pad := make([]int, b)
			rows := make([][]int32, b)
			for r := range b {
				rows[r] = make([]int32, width)
				p := prompts[min(r, len(prompts)-1)]
				pad[r] = width - len(p)
				copy(rows[r][pad[r]:], p)
			}
			logp, caches, err := s.step(rows, pad, 0, s.emptyCaches(b))
			if err != nil {
				t.Fatal(err)
			}
			seqs := make([][]int32, b)
			for r := range b {
				seqs[r] = slices.Clone(rows[r][pad[r]:])
			}
			rng := rand.New(rand.NewPCG(1, 1))
			for step := range 4 {
				full := fullLogSoftmax(t, m, seqs)
				next := make([][]int32, b)
				for r := range b {
					want := full[r][len(seqs[r])-1]
					for v := range want {
						if d := math.Abs(float64(logp[r][v] - want[v])); d > 1e-5 {
							t.Fatalf("step %d row %d token %d: cached %v, full forward %v", step, r, v, logp[r][v], want[v])
						}
					}
					tok := int32(rng.IntN(m.Config.VocabSize))
					next[r] = []int32{tok}
					seqs[r] = append(seqs[r], tok)
				}
				if logp, caches, err = s.step(next, pad, width+step, caches); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestSampledLogProbsMatchTeacherForcing(t *testing.T) {
	m := randomizedLM(t, tinyConfig(PositionsRoPE), 12)
	s, _ := NewSampler(m)
	prompts := [][]int32{{1, 3, 5, 6, 4}, {1, 3, 7, 4}, {1, 3, 8, 9, 10, 4}}
	out, err := s.Sample(prompts, SampleConfig{MaxNew: 5, Temperature: 1, StopToken: datasets.EOSID, BatchRows: 4}, rand.New(rand.NewPCG(3, 3)))
	if err != nil {
		t.Fatal(err)
	}
	var pairs []Sequence
	for i, p := range prompts {
		pairs = append(pairs, PairSequence(p, out.Tokens[i]))
	}
	tf, err := m.ResponseLogProbs(pairs, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i := range prompts {
		for j := range out.Tokens[i] {
			if d := math.Abs(float64(out.LogProbs[i][j] - tf[i][j])); d > 1e-5 {
				t.Errorf("row %d token %d: sampling log-prob %v, teacher-forced %v", i, j, out.LogProbs[i][j], tf[i][j])
			}
		}
	}
}

func TestSamplerStopsAtEOSAndMaxLength(t *testing.T) {
	m := randomizedLM(t, tinyConfig(PositionsLearned), 13)
	s, _ := NewSampler(m)
	var prompts [][]int32
	for i := range 20 {
		prompts = append(prompts, []int32{1, 3, int32(5 + i%6), 4})
	}
	if _, err := s.Sample(prompts, SampleConfig{MaxNew: 9, Temperature: 1, BatchRows: 8}, rand.New(rand.NewPCG(4, 4))); err == nil {
		t.Error("4-token prompts with 9 new tokens fit a context of 12")
	}
	for _, stop := range []int32{datasets.EOSID, 7} {
		out, err := s.Sample(prompts, SampleConfig{MaxNew: 6, Temperature: 1.5, StopToken: stop, BatchRows: 8}, rand.New(rand.NewPCG(4, 4)))
		if err != nil {
			t.Fatal(err)
		}
		var stopped, truncated int
		for i, toks := range out.Tokens {
			if len(toks) == 0 || len(toks) > 6 || len(out.LogProbs[i]) != len(toks) {
				t.Fatalf("row %d: %d tokens, %d log-probs", i, len(toks), len(out.LogProbs[i]))
			}
			at := slices.Index(toks, stop)
			switch {
			case out.Stopped[i] && at != len(toks)-1:
				t.Errorf("row %d marked stopped but stop token at %d of %v", i, at, toks)
			case !out.Stopped[i] && (at >= 0 || len(toks) != 6):
				t.Errorf("row %d not stopped: %v", i, toks)
			}
			if out.Stopped[i] {
				stopped++
			} else {
				truncated++
			}
		}
		if stopped == 0 || truncated == 0 {
			t.Logf("stop %d: %d stopped, %d truncated (both cases wanted for a strong test)", stop, stopped, truncated)
		}
	}
}

func TestFilteredProbs(t *testing.T) {
	logp := []float32{float32(math.Log(0.1)), float32(math.Log(0.4)), float32(math.Log(0.3)), float32(math.Log(0.2))}
	cases := []struct {
		name string
		temp float64
		k    int
		p    float64
		want []float64
	}{
		{"plain", 1, 0, 0, []float64{0.1, 0.4, 0.3, 0.2}},
		{"top-2", 1, 2, 0, []float64{0, 0.4 / 0.7, 0.3 / 0.7, 0}},
		{"top-p 0.65", 1, 0, 0.65, []float64{0, 0.4 / 0.7, 0.3 / 0.7, 0}},
		{"top-p 0.7 exactly reached", 1, 0, 0.7, []float64{0, 0.4 / 0.7, 0.3 / 0.7, 0}},
		{"top-p 0.75", 1, 0, 0.75, []float64{0, 0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9}},
		{"top-3 then top-p 0.5 (of the renormalised top 3)", 1, 3, 0.5, []float64{0, 0.4 / 0.7, 0.3 / 0.7, 0}},
		{"top-3 then top-p 0.4", 1, 3, 0.4, []float64{0, 1, 0, 0}},
		{"temperature 0.5", 0.5, 0, 0, []float64{0.01 / 0.3, 0.16 / 0.3, 0.09 / 0.3, 0.04 / 0.3}},
	}
	for _, c := range cases {
		got := FilteredProbs(logp, c.temp, c.k, c.p)
		for i := range got {
			if math.Abs(got[i]-c.want[i]) > 1e-6 {
				t.Errorf("%s: probs %v, want %v", c.name, got, c.want)
				break
			}
		}
	}
}

func TestTopKTopPEmitOnlyAllowedTokens(t *testing.T) {
	m := randomizedLM(t, tinyConfig(PositionsLearned), 14)
	s, _ := NewSampler(m)
	prompt := []int32{1, 3, 6, 4}
	first := fullLogSoftmax(t, m, [][]int32{prompt})[0][len(prompt)-1]
	for _, c := range []struct {
		k int
		p float64
	}{{2, 0}, {0, 0.5}, {3, 0.8}} {
		allowed := FilteredProbs(first, 1, c.k, c.p)
		prompts := make([][]int32, 64)
		for i := range prompts {
			prompts[i] = prompt
		}
		out, err := s.Sample(prompts, SampleConfig{MaxNew: 1, Temperature: 1, TopK: c.k, TopP: c.p, StopToken: datasets.EOSID, BatchRows: 64}, rand.New(rand.NewPCG(5, 5)))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int32]bool{}
		for _, toks := range out.Tokens {
			if allowed[toks[0]] == 0 {
				t.Errorf("top-k %d top-p %v emitted token %d outside the allowed set %v", c.k, c.p, toks[0], allowed)
			}
			seen[toks[0]] = true
		}
		if c.k == 2 && len(seen) != 2 {
			t.Errorf("top-2 over 64 samples used %d distinct tokens", len(seen))
		}
	}
}

// TestTemperatureOneMatchesModel draws many first tokens at temperature 1 and compares the counts
// with the model's own distribution by a chi-square test.
func TestTemperatureOneMatchesModel(t *testing.T) {
	cfg := tinyConfig(PositionsLearned)
	m := randomizedLM(t, cfg, 15)
	s, _ := NewSampler(m)
	prompt := []int32{1, 3, 8, 4}
	probsLog := fullLogSoftmax(t, m, [][]int32{prompt})[0][len(prompt)-1]
	const n = 64 * 60
	prompts := make([][]int32, n)
	for i := range prompts {
		prompts[i] = prompt
	}
	out, err := s.Sample(prompts, SampleConfig{MaxNew: 1, Temperature: 1, StopToken: datasets.EOSID, BatchRows: 64}, rand.New(rand.NewPCG(6, 6)))
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]float64, cfg.VocabSize)
	for _, toks := range out.Tokens {
		counts[toks[0]]++
	}
	// Pool tokens with expected count < 5 into one cell, as the test requires.
	var chi2, poolObs, poolExp float64
	cells := 0
	for v, lp := range probsLog {
		exp := n * math.Exp(float64(lp))
		if exp < 5 {
			poolObs += counts[v]
			poolExp += exp
			continue
		}
		chi2 += (counts[v] - exp) * (counts[v] - exp) / exp
		cells++
	}
	if poolExp > 0 {
		chi2 += (poolObs - poolExp) * (poolObs - poolExp) / poolExp
		cells++
	}
	// 99.9th percentile of χ² with up to 10 degrees of freedom is 29.6.
	if chi2 > 29.6 {
		t.Errorf("χ² = %.1f over %d cells: sampled counts %v do not follow the model", chi2, cells, counts)
	}
}

// TestResponsesExcludeNonResponseTokens checks the response distribution: with the word
// tokenizer attached, <pad>, <bos>, <q> and <a> are never sampled, and every sampled and
// teacher-forced log-prob equals the model's full distribution renormalised over the other
// tokens, log π(y) − log Σ_{y' ∉ S} π(y'), computed here in float64 from the unrestricted softmax.
func TestResponsesExcludeNonResponseTokens(t *testing.T) {
	m := randomizedLM(t, tinyConfig(PositionsRoPE), 21)
	prompts := make([][]int32, 32)
	for i := range prompts {
		prompts[i] = []int32{datasets.BOSID, datasets.QID, int32(5 + i%6), datasets.AID}
	}
	cfg := SampleConfig{MaxNew: 8, Temperature: 1, StopToken: datasets.EOSID, BatchRows: 32}
	countNonResponse := func(out *Samples, excluded []int32) int {
		n := 0
		for _, row := range out.Tokens {
			for _, tok := range row {
				if slices.Contains(excluded, tok) {
					n++
				}
			}
		}
		return n
	}
	excluded := tinyTokenizer().NonResponseIDs()
	// Without a tokenizer nothing is excluded, and this random model does emit special tokens:
	// the check below can fail.
	s, _ := NewSampler(m)
	free, err := s.Sample(prompts, cfg, rand.New(rand.NewPCG(4, 4)))
	if err != nil {
		t.Fatal(err)
	}
	if countNonResponse(free, excluded) == 0 {
		t.Fatal("the unrestricted model emitted no special token; the test cannot tell the restriction apart")
	}

	m.Tokenizer = tinyTokenizer()
	s, _ = NewSampler(m)
	out, err := s.Sample(prompts, cfg, rand.New(rand.NewPCG(4, 4)))
	if err != nil {
		t.Fatal(err)
	}
	if n := countNonResponse(out, excluded); n != 0 {
		t.Fatalf("%d non-response tokens sampled with the tokenizer attached", n)
	}
	var pairs []Sequence
	var seqs [][]int32
	for i, p := range prompts {
		pairs = append(pairs, PairSequence(p, out.Tokens[i]))
		seqs = append(seqs, append(slices.Clone(p), out.Tokens[i]...))
	}
	tf, err := m.ResponseLogProbs(pairs, 32)
	if err != nil {
		t.Fatal(err)
	}
	full := fullLogSoftmax(t, m, seqs) // unrestricted: these Sequences are not responses
	for i, p := range prompts {
		for j, tok := range out.Tokens[i] {
			dist := full[i][len(p)-1+j]
			var allowed float64
			for v, lp := range dist {
				if !slices.Contains(excluded, int32(v)) {
					allowed += math.Exp(float64(lp))
				}
			}
			want := float64(dist[tok]) - math.Log(allowed)
			if d := math.Abs(float64(out.LogProbs[i][j]) - want); d > 1e-4 {
				t.Fatalf("row %d token %d: sampled log-prob %v, renormalised reference %v", i, j, out.LogProbs[i][j], want)
			}
			if d := math.Abs(float64(tf[i][j]) - want); d > 1e-4 {
				t.Fatalf("row %d token %d: teacher-forced log-prob %v, renormalised reference %v", i, j, tf[i][j], want)
			}
		}
	}
}
