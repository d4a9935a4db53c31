package study

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// emRow is a T1 row with one seed's EM per split.
func emRow(n int, m Method, em map[string]float64) Row {
	r := Row{Key: Key{N: n, Method: m}, Name: fmt.Sprintf("N=%d %s", n, m.Label()), Cells: map[string]Cell{}}
	for _, s := range []string{"id", "ood_op", "ood_len"} {
		r.add(s+" EM", []float64{em[s]})
	}
	return r
}

func TestCriterionA(t *testing.T) {
	splits := []string{"id", "ood_op", "ood_len"}
	ns := []int{16, 64, 1024}
	// base builds T1 where SRPPO-eos gains gain[n] points on ood_len at N=n and idShift on id.
	base := func(gain map[int]float64, idShift float64) []Row {
		var rows []Row
		for _, n := range ns {
			rows = append(rows,
				emRow(n, MethodSFT, map[string]float64{"id": 0.5, "ood_op": 0.3, "ood_len": 0.4}),
				emRow(n, MethodEOS, map[string]float64{"id": 0.5 + idShift, "ood_op": 0.29, "ood_len": 0.4 + gain[n]/100}))
		}
		return rows
	}
	for _, tc := range []struct {
		name    string
		gain    map[int]float64
		idShift float64
		held    bool
	}{
		{"holds", map[int]float64{16: 6, 64: 5.5, 1024: 1}, 0.01, true},
		{"small ood gain at N=64", map[int]float64{16: 6, 64: 4, 1024: 1}, 0, false},
		{"in-domain drop of 3 points", map[int]float64{16: 6, 64: 6, 1024: 1}, -0.03, false},
		{"gap does not narrow", map[int]float64{16: 6, 64: 6, 1024: 7}, 0, false},
	} {
		v := CriterionA(base(tc.gain, tc.idShift), ns, splits)
		if !v.Measured || v.Held != tc.held {
			t.Errorf("%s: measured %v held %v, want held %v: %v", tc.name, v.Measured, v.Held, tc.held, v.Lines)
		}
		if len(v.Lines) != 2 || !strings.Contains(v.Lines[0], "ood_len") {
			t.Errorf("%s: evidence %q should have a line per N ≤ 64 naming the best split", tc.name, v.Lines)
		}
	}
	if v := CriterionA(base(map[int]float64{16: 9}, 0)[:2], []int{16}, splits); v.Measured {
		t.Errorf("without N=1024 (a) cannot be measured: %+v", v)
	}
}

func TestCriterionB(t *testing.T) {
	row := func(mode Method, len0, lenLast, truncLast float64) Row {
		r := Row{Key: Key{N: 64, Method: mode}, Name: string(mode), Cells: map[string]Cell{}}
		r.add("len@0", []float64{len0})
		r.add("trunc%@0", []float64{0})
		r.add("len@19", []float64{lenLast})
		r.add("trunc%@19", []float64{truncLast})
		return r
	}
	at := []int{0, 10, 19}
	for _, tc := range []struct {
		name string
		rows []Row
		held bool
	}{
		{"token +25%, eos +10%", []Row{row("token", 4, 5, 0), row("eos", 4, 4.4, 0)}, true},
		{"token +24%", []Row{row("token", 4, 4.96, 0), row("eos", 4, 4, 0)}, false},
		{"token truncates 21%", []Row{row("token", 4, 4.2, 21), row("eos", 4, 4, 0)}, true},
		{"token shortens by 30%", []Row{row("token", 4, 2.8, 0), row("eos", 4, 4, 0)}, true},
		{"eos −11%", []Row{row("token", 4, 8, 0), row("eos", 4, 3.56, 0)}, false},
	} {
		v := CriterionB(tc.rows, 64, at)
		if !v.Measured || v.Held != tc.held {
			t.Errorf("%s: measured %v held %v, want held %v: %v", tc.name, v.Measured, v.Held, tc.held, v.Lines)
		}
	}
	if v := CriterionB([]Row{row("eos", 4, 4, 0)}, 64, at); v.Measured {
		t.Errorf("without a token run (b) cannot be measured: %+v", v)
	}
}

// TestCriteriaFindRowsByKey renames every label and reorders the rows: the criteria read the
// same rows, since they find them by {N, Method}, never by a formatted name.
func TestCriteriaFindRowsByKey(t *testing.T) {
	splits, ns := []string{"id", "ood_op"}, []int{16, 1024}
	var t1 []Row
	for _, n := range ns {
		t1 = append(t1, emRow(n, MethodSFT, map[string]float64{"id": 0.5, "ood_op": 0.3}),
			emRow(n, MethodEOS, map[string]float64{"id": 0.5, "ood_op": 0.3 + map[int]float64{16: 0.08, 1024: 0.01}[n]}))
	}
	before := CriterionA(t1, ns, splits)
	if !before.Measured || !before.Held {
		t.Fatalf("(a) should hold on these rows: %+v", before)
	}
	saved := methodLabels
	defer func() { methodLabels = saved }()
	methodLabels = map[Method]string{MethodSFT: "supervised", MethodEOS: "self-rewarding"}
	renamed := slices.Clone(t1)
	slices.Reverse(renamed)
	for i := range renamed {
		renamed[i].Name = "renamed " + renamed[i].Key.Method.Label()
	}
	after := CriterionA(renamed, ns, splits)
	if after.Held != before.Held || !slices.Equal(after.Lines, before.Lines) {
		t.Errorf("renamed labels changed criterion (a): %v, want %v", after.Lines, before.Lines)
	}
	// A row keyed to another N is not read in its place.
	t1[1].Key.N = 64
	if v := CriterionA(t1, ns, splits); v.Held {
		t.Errorf("(a) held without an SRPPO-eos row at N = 16: %v", v.Lines)
	}
}
