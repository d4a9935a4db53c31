package srppo

import (
	"fmt"
	"slices"
	"sync"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// batchNodes are the graph inputs of a teacher-forced batch: the first batchArity inputs of every
// graph that reads a [Batch].
type batchNodes struct{ tokens, targets, positions, segments, response *Node }

// batchArity is the number of graph inputs that batchInputs produces.
const batchArity = 5

// batchInputs converts a host batch into the tensors fed to an Exec, in batchNodes order.
func batchInputs(bt *Batch) []any {
	return []any{
		tensors.FromFlatDataAndDimensions(bt.Tokens, bt.B, bt.T),
		tensors.FromFlatDataAndDimensions(bt.Targets, bt.B, bt.T),
		tensors.FromFlatDataAndDimensions(bt.Positions, bt.B, bt.T),
		tensors.FromFlatDataAndDimensions(bt.Segments, bt.B, bt.T),
		tensors.FromFlatDataAndDimensions(bt.Response, bt.B, bt.T),
	}
}

// batchNodesOf names the first batchArity graph inputs; the rest of in follows them.
func batchNodesOf(in []*Node) batchNodes { return batchNodes{in[0], in[1], in[2], in[3], in[4]} }

// teacherForced returns log π(target_t | tokens ≤ t) [B,T] and the logits [B,T,V]; at response
// columns (in.response = 1) the distribution is the response distribution (tokens that can never
// be part of a response get probability 0, as in sampling).
func (m *LM) teacherForced(g *Graph, in batchNodes) (logp, logits *Node) {
	h, _ := m.hidden(g, in.tokens, attentionInputs{positions: in.positions, mask: sequenceMask(in.segments)})
	return m.tokenLogProbs(g, h, in.targets, in.response)
}

// scorer holds the compiled teacher-forced log-prob graph of a model (one graph per batch shape).
type scorer struct {
	once sync.Once
	exec *model.Exec
	err  error
}

// LogProbs returns log π(target_t | context) for every column of the batch, [B][T] (padding
// columns hold meaningless values; callers select by Segments or LossMask).
func (m *LM) LogProbs(bt *Batch) ([][]float32, error) {
	backend, err := Backend()
	if err != nil {
		return nil, err
	}
	m.score.once.Do(func() {
		m.score.exec, m.score.err = model.NewExec(backend, m.store, func(scope *model.Scope, inputs []*Node) *Node {
			logp, _ := m.teacherForced(inputs[0].Graph(), batchNodesOf(inputs))
			return logp
		})
	})
	if m.score.err != nil {
		return nil, m.score.err
	}
	out, err := m.score.exec.Call(batchInputs(bt)...)
	if err != nil {
		return nil, fmt.Errorf("log-probs: %w", err)
	}
	flat, err := tensors.CopyFlatData[float32](out[0])
	if err != nil {
		return nil, err
	}
	rows := make([][]float32, bt.B)
	for r := range rows {
		rows[r] = flat[r*bt.T : (r+1)*bt.T]
	}
	return rows, nil
}

// ResponseLogProbs returns, for each (prompt, response) pair, log π(y_t | x, y<t) for every response
// token (teacher forcing), computed in batches of batchSize rows of the model's context.
func (m *LM) ResponseLogProbs(pairs []Sequence, batchSize int) ([][]float32, error) {
	out, err := ScoreModels([]*LM{m}, pairs, batchSize)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// ScoreModels runs several models with the same context on one token tensor per batch and
// returns out[model][pair][t] = log π_model(y_t | x, y<t) over the response tokens of each pair
// (a Sequence from PairSequence). This is what the coherent reward needs: Δ_t from π_sft and π_pt
// on exactly the same tokens.
func ScoreModels(models []*LM, pairs []Sequence, batchSize int) ([][][]float32, error) {
	if len(models) == 0 {
		return nil, fmt.Errorf("no models to score with")
	}
	t := models[0].Config.Context
	for _, m := range models[1:] {
		if m.Config.Context != t || m.Config.VocabSize != models[0].Config.VocabSize {
			return nil, fmt.Errorf("models differ in context or vocabulary (%d/%d vs %d/%d)", m.Config.Context, m.Config.VocabSize, t, models[0].Config.VocabSize)
		}
	}
	out := make([][][]float32, len(models))
	for i := range out {
		out[i] = make([][]float32, len(pairs))
	}
	for start := 0; start < len(pairs); start += batchSize {
		chunk := pairs[start:min(start+batchSize, len(pairs))]
		bt, err := OneSequencePerRow(chunk, batchSize, RowWidth(chunk, t))
		if err != nil {
			return nil, fmt.Errorf("pairs %d…: %w", start, err)
		}
		calls := make([]func() error, len(models))
		for mi, m := range models {
			calls[mi] = func() error {
				rows, err := m.LogProbs(bt)
				if err != nil {
					return err
				}
				for r, s := range chunk {
					out[mi][start+r] = append([]float32(nil), rows[r][s.LossFrom:len(s.Tokens)-1]...)
				}
				return nil
			}
		}
		if err := concurrently(distinctModels(models), calls...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Logits returns the next-token logits [T][V] at every position of one sequence of at most
// Context tokens: the network's raw output, for comparing imported weights with another
// implementation (a reference forward pass, Hugging Face's transformers). It compiles a graph
// on every call, so it is for inspection rather than loops.
func (m *LM) Logits(tokens []int32) ([][]float32, error) {
	bt, err := OneSequencePerRow([]Sequence{{Tokens: append(slices.Clone(tokens), 0)}}, 1, len(tokens))
	if err != nil {
		return nil, fmt.Errorf("logits: %w", err)
	}
	backend, err := Backend()
	if err != nil {
		return nil, err
	}
	exec, err := model.NewExec(backend, m.store, func(scope *model.Scope, in []*Node) *Node {
		_, logits := m.teacherForced(in[0].Graph(), batchNodesOf(in))
		return logits
	})
	if err != nil {
		return nil, err
	}
	out, err := exec.Call(batchInputs(bt)...)
	if err != nil {
		return nil, fmt.Errorf("logits: %w", err)
	}
	flat, err := tensors.CopyFlatData[float32](out[0])
	if err != nil {
		return nil, err
	}
	v := m.Config.VocabSize
	rows := make([][]float32, len(tokens))
	for t := range rows {
		rows[t] = flat[t*v : (t+1)*v]
	}
	return rows, nil
}
