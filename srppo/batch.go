package srppo

import (
	"fmt"
)

// Sequence is one training or scoring example: a token sequence whose next-token targets from
// index LossFrom on count in the loss. For a corpus document LossFrom is 0; for a (prompt, response)
// pair it is len(prompt)−1, so that only response tokens (including the final <eos>) are learned.
type Sequence struct {
	Tokens   []int32
	LossFrom int
	// Response marks the targets from LossFrom on as a response to a prompt: there the model's
	// distribution is restricted to the response vocabulary (see [LM.NonResponseIDs]).
	Response bool
}

// PairSequence joins prompt and response tokens into a Sequence whose loss covers the response only.
func PairSequence(prompt, response []int32) Sequence {
	return Sequence{Tokens: append(append(make([]int32, 0, len(prompt)+len(response)), prompt...), response...), LossFrom: len(prompt) - 1, Response: true}
}

// Batch is a host-side [B,T] batch for teacher forcing. Row r, column t predicts Targets[r,t]
// from Tokens[r,0..t] of the same segment; Segments is 0 on padding and numbers the sequences
// packed into a row from 1; Positions restart at 0 for each sequence.
type Batch struct {
	B, T      int
	Tokens    []int32
	Targets   []int32
	Positions []int32
	Segments  []int32
	LossMask  []float32
	Response  []float32 // 1 where the target is a response token (Sequence.Response), else 0
}

// NewBatch returns an all-padding batch of b rows of t columns.
func NewBatch(b, t int) *Batch {
	return &Batch{B: b, T: t, Tokens: make([]int32, b*t), Targets: make([]int32, b*t),
		Positions: make([]int32, b*t), Segments: make([]int32, b*t), LossMask: make([]float32, b*t), Response: make([]float32, b*t)}
}

// put writes sequence s into row r starting at column col as segment seg and returns the columns used.
func (bt *Batch) put(r, col int, seg int32, s Sequence) int {
	n := len(s.Tokens) - 1
	for i := range n {
		j := r*bt.T + col + i
		bt.Tokens[j] = s.Tokens[i]
		bt.Targets[j] = s.Tokens[i+1]
		bt.Positions[j] = int32(i)
		bt.Segments[j] = seg
		if i >= s.LossFrom {
			bt.LossMask[j] = 1
			if s.Response {
				bt.Response[j] = 1
			}
		}
	}
	return n
}

// LossTokens is the number of targets that count in the loss.
func (bt *Batch) LossTokens() int {
	n := 0
	for _, m := range bt.LossMask {
		if m > 0 {
			n++
		}
	}
	return n
}

// checkSequences rejects sequences that cannot be placed in a row of t columns.
func checkSequences(seqs []Sequence, t int) error {
	for i, s := range seqs {
		switch {
		case len(s.Tokens) < 2:
			return fmt.Errorf("sequence %d (from 1) has %d tokens; at least 2 are needed for one target", i+1, len(s.Tokens))
		case len(s.Tokens)-1 > t:
			return fmt.Errorf("sequence %d (from 1): prompt + response has %d tokens > context %d (+1: the last token is only a target)", i+1, len(s.Tokens), t)
		case s.LossFrom < 0 || s.LossFrom >= len(s.Tokens)-1:
			return fmt.Errorf("sequence %d (from 1): loss start %d outside its %d targets", i+1, s.LossFrom, len(s.Tokens)-1)
		}
	}
	return nil
}

// PackRows places sequences, in order, into rows of t columns: each sequence goes into the current
// row if it fits, otherwise a new row is started. Packing wastes no compute on padding and, with
// per-segment masks and positions, each sequence sees only itself.
func PackRows(seqs []Sequence, t int) ([][]Sequence, error) {
	if err := checkSequences(seqs, t); err != nil {
		return nil, err
	}
	var rows [][]Sequence
	used := t
	for _, s := range seqs {
		n := len(s.Tokens) - 1
		if used+n > t {
			rows = append(rows, nil)
			used = 0
		}
		rows[len(rows)-1] = append(rows[len(rows)-1], s)
		used += n
	}
	return rows, nil
}

// BatchRows turns packed rows into a batch of b rows (missing rows stay padding).
func BatchRows(rows [][]Sequence, b, t int) (*Batch, error) {
	if len(rows) > b {
		return nil, fmt.Errorf("%d rows do not fit a batch of %d", len(rows), b)
	}
	bt := NewBatch(b, t)
	for r, row := range rows {
		col := 0
		for i, s := range row {
			col += bt.put(r, col, int32(i+1), s)
		}
		if col > t {
			return nil, fmt.Errorf("row %d holds %d columns, more than %d", r, col, t)
		}
	}
	return bt, nil
}

// OneSequencePerRow builds a batch with sequence i alone in row i (used for scoring, where the
// per-token results are read back by row).
func OneSequencePerRow(seqs []Sequence, b, t int) (*Batch, error) {
	if len(seqs) > b {
		return nil, fmt.Errorf("%d sequences do not fit a batch of %d", len(seqs), b)
	}
	if err := checkSequences(seqs, t); err != nil {
		return nil, err
	}
	bt := NewBatch(b, t)
	for i, s := range seqs {
		bt.put(i, 0, 1, s)
	}
	return bt, nil
}

// widthBucket is the multiple that batch widths are rounded up to, so that few graph shapes are
// compiled. 4 rather than 8 pads 8–10 % fewer columns at the design size (bench/NOTES.md); each
// extra shape costs a compilation of milliseconds.
const widthBucket = 4

// bucketWidth rounds w up to a multiple of widthBucket, capped at limit.
func bucketWidth(w, limit int) int {
	return min((w+widthBucket-1)/widthBucket*widthBucket, limit)
}

// RowWidth is the number of columns a one-sequence-per-row batch of seqs needs: the longest
// sequence's targets, rounded up to a multiple of widthBucket and capped at the context. Scoring
// and PPO updates use it instead of the full context: responses are short.
func RowWidth(seqs []Sequence, context int) int {
	w := 1
	for _, s := range seqs {
		w = max(w, len(s.Tokens)-1)
	}
	return bucketWidth(w, context)
}
