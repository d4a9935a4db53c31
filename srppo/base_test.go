package srppo

import (
	"testing"

	"github.com/gosrppo/gosrppo/datasets"
)

// TestShippedBaseModelT0 loads the shipped lean base model and reproduces the T0 numbers recorded
// in srppo/base/lean/PRETRAIN.md on the lean world's eval set (seed 1).
func TestShippedBaseModelT0(t *testing.T) {
	if testing.Short() {
		t.Skip("T0 of the shipped base model takes about a minute")
	}
	m, err := BaseModel("lean")
	if err != nil {
		t.Fatal(err)
	}
	w, err := datasets.Lean().Generate(1)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Tokenizer.Equal(m.Tokenizer) {
		t.Fatal("the shipped model's vocabulary differs from the lean world's")
	}
	t0, err := ProbeBase(m, w.Eval, 64)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]float64{ // split → document EM, chat EM
		"id": {1.000, 0.030}, "ood_op": {1.000, 0.034}, "ood_len": {0.998, 0.022},
	}
	for split, w := range want {
		doc, _ := Group(t0.Doc.BySplit, split)
		chat, _ := Group(t0.Chat.BySplit, split)
		if doc.N != 500 || !near(doc.EM, w[0], 1e-9) || !near(chat.EM, w[1], 1e-9) {
			t.Errorf("%s: doc EM %.3f chat EM %.3f over %d items, recorded %.3f and %.3f over 500", split, doc.EM, chat.EM, doc.N, w[0], w[1])
		}
	}
	if !near(t0.DocInRangeEM, 1, 1e-9) {
		t.Errorf("document-format EM at in-range lengths %.4f, recorded 1.000", t0.DocInRangeEM)
	}
}
