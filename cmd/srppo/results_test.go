package main

import (
	"fmt"
	"strings"
	"testing"
)

// emRow is a T1 row with one seed's EM per split.
func emRow(name string, em map[string]float64) tableRow {
	r := tableRow{Name: name, Cells: map[string]cell{}}
	for _, s := range []string{"id", "ood_op", "ood_len"} {
		r.add(s+" EM", []float64{em[s]})
	}
	return r
}

func TestCriterionA(t *testing.T) {
	splits := []string{"id", "ood_op", "ood_len"}
	ns := []int{16, 64, 1024}
	// base builds T1 where SRPPO-eos gains gain[n] points on ood_len at N=n and idShift on id.
	base := func(gain map[int]float64, idShift float64) []tableRow {
		var rows []tableRow
		for _, n := range ns {
			rows = append(rows,
				emRow(fmt.Sprintf("N=%d SFT", n), map[string]float64{"id": 0.5, "ood_op": 0.3, "ood_len": 0.4}),
				emRow(fmt.Sprintf("N=%d SRPPO-eos", n), map[string]float64{"id": 0.5 + idShift, "ood_op": 0.29, "ood_len": 0.4 + gain[n]/100}))
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
		v := criterionA(base(tc.gain, tc.idShift), ns, splits)
		if !v.Measured || v.Held != tc.held {
			t.Errorf("%s: measured %v held %v, want held %v: %v", tc.name, v.Measured, v.Held, tc.held, v.Lines)
		}
		if len(v.Lines) != 2 || !strings.Contains(v.Lines[0], "ood_len") {
			t.Errorf("%s: evidence %q should have a line per N ≤ 64 naming the best split", tc.name, v.Lines)
		}
	}
	if v := criterionA(base(map[int]float64{16: 9}, 0)[:2], []int{16}, splits); v.Measured {
		t.Errorf("without N=1024 (a) cannot be measured: %+v", v)
	}
}

func TestCriterionB(t *testing.T) {
	row := func(mode string, len0, lenLast, truncLast float64) tableRow {
		r := tableRow{Name: mode, Cells: map[string]cell{}}
		r.add("len@0", []float64{len0})
		r.add("trunc%@0", []float64{0})
		r.add("len@19", []float64{lenLast})
		r.add("trunc%@19", []float64{truncLast})
		return r
	}
	at := []int{0, 10, 19}
	for _, tc := range []struct {
		name string
		rows []tableRow
		held bool
	}{
		{"token +25%, eos +10%", []tableRow{row("token", 4, 5, 0), row("eos", 4, 4.4, 0)}, true},
		{"token +24%", []tableRow{row("token", 4, 4.96, 0), row("eos", 4, 4, 0)}, false},
		{"token truncates 21%", []tableRow{row("token", 4, 4.2, 21), row("eos", 4, 4, 0)}, true},
		{"token shortens by 30%", []tableRow{row("token", 4, 2.8, 0), row("eos", 4, 4, 0)}, true},
		{"eos −11%", []tableRow{row("token", 4, 8, 0), row("eos", 4, 3.56, 0)}, false},
	} {
		v := criterionB(tc.rows, at)
		if !v.Measured || v.Held != tc.held {
			t.Errorf("%s: measured %v held %v, want held %v: %v", tc.name, v.Measured, v.Held, tc.held, v.Lines)
		}
	}
	if v := criterionB([]tableRow{row("eos", 4, 4, 0)}, at); v.Measured {
		t.Errorf("without a token run (b) cannot be measured: %+v", v)
	}
}
