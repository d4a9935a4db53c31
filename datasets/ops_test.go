package datasets

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// symbolOrder spells the documented symbol order.
const symbolOrder = "0123456789abcdefghijklmnopqrstuvwxyz"

// rank is a symbol's position in symbolOrder.
func rank(s string) int { return strings.Index(symbolOrder, s) }

// refAnswer is an independent implementation of every operation: ranks instead of string
// comparison, counting sort, schoolbook addition, digits by division.
func refAnswer(t *testing.T, op string, a []string) []string {
	digitsOf := func(n int) []string {
		var out []string
		for {
			out = append([]string{string(symbolOrder[n%10])}, out...)
			if n /= 10; n == 0 {
				return out
			}
		}
	}
	switch op {
	case "FIRST":
		return []string{a[0]}
	case "LAST":
		return []string{a[len(a)-1]}
	case "MAX":
		best := a[0]
		for _, x := range a[1:] {
			if rank(x) > rank(best) {
				best = x
			}
		}
		return []string{best}
	case "MIN":
		best := a[0]
		for _, x := range a[1:] {
			if rank(x) < rank(best) {
				best = x
			}
		}
		return []string{best}
	case "SORT":
		var counts [len(symbolOrder)]int
		for _, x := range a {
			counts[rank(x)]++
		}
		var out []string
		for r, c := range counts {
			for range c {
				out = append(out, symbolOrder[r:r+1])
			}
		}
		return out
	case "REV":
		out := make([]string, len(a))
		for i, x := range a {
			out[len(a)-1-i] = x
		}
		return out
	case "DUP":
		var out []string
		for _, x := range a {
			out = append(out, x)
			out = append(out, x)
		}
		return out
	case "ADD":
		// Add the operands digit by digit from the right, then drop leading zeros.
		sum := make([]int, 3)
		carry := 0
		for i := 1; i >= 0; i-- {
			s := rank(a[i]) + rank(a[2+i]) + carry
			sum[i+1], carry = s%10, s/10
		}
		sum[0] = carry
		for len(sum) > 1 && sum[0] == 0 {
			sum = sum[1:]
		}
		var out []string
		for _, d := range sum {
			out = append(out, symbolOrder[d:d+1])
		}
		return out
	case "CNT":
		n := 0
		for _, x := range a[1:] {
			if x == a[0] {
				n++
			}
		}
		return digitsOf(n)
	}
	t.Fatalf("no reference for %s", op)
	return nil
}

func TestAnswerMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, name := range PresetNames() {
		w, _ := Preset(name)
		symbols := slices.Concat(w.Letters, w.Digits)
		for _, op := range w.Ops {
			alpha := symbols
			if slices.Contains(w.DigitOps, op) || op == "ADD" {
				alpha = w.Digits
			}
			for range 2000 {
				n := 1 + rng.IntN(9)
				switch op {
				case "ADD":
					n = 4
				case "CNT":
					n++
				}
				args := make([]string, n)
				for i := range args {
					args[i] = alpha[rng.IntN(len(alpha))]
				}
				got, err := Answer(op, args)
				if want := refAnswer(t, op, args); err != nil || !slices.Equal(got, want) {
					t.Fatalf("%s: Answer(%s, %q) = %q, %v, want %q", name, op, args, got, err, want)
				}
			}
		}
	}
}

func TestAnswerExamples(t *testing.T) {
	for _, tc := range []struct{ prompt, want string }{
		{"REV a b c", "c b a"},
		{"SORT b 3 a 0 b", "0 3 a b b"},
		{"MAX 9 a 3", "a"},
		{"MIN 9 a 3", "3"},
		{"FIRST 7 a", "7"},
		{"LAST 7 a", "a"},
		{"DUP a 1", "a a 1 1"},
		{"ADD 0 7 1 5", "2 2"},
		{"ADD 9 9 9 9", "1 9 8"},
		{"ADD 0 0 0 0", "0"},
		{"CNT 3 1 3 3 0", "2"},
		{"CNT 3 1 2", "0"},
		{"CNT 1 1 1 1 1 1 1 1 1 1 1", "1 0"},
	} {
		if got, err := AnswerPrompt(tc.prompt); err != nil || got != tc.want {
			t.Errorf("AnswerPrompt(%q) = %q, %v, want %q", tc.prompt, got, err, tc.want)
		}
	}
}

func TestAnswerErrors(t *testing.T) {
	for _, tc := range []struct{ prompt, want string }{
		{"", "empty prompt"},
		{"NOPE a", `unknown operation "NOPE"`},
		{"REV", "needs at least 1 arguments"},
		{"CNT 3", "needs at least 2 arguments"},
		{"ADD 1 2 3", "needs 4 arguments"},
		{"ADD 1 2 3 a", `bad argument "a"`},
		{"SORT a B", `bad argument "B"`},
		{"SORT a bc", `bad argument "bc"`},
	} {
		if _, err := AnswerPrompt(tc.prompt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AnswerPrompt(%q) error = %v, want %q", tc.prompt, err, tc.want)
		}
	}
}
