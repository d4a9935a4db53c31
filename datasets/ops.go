package datasets

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// opSpec describes how one operation takes its arguments and computes its answer.
type opSpec struct {
	// fixedArgs is the argument count of an operation whose arguments do not grow with L (ADD);
	// 0 for the others.
	fixedArgs int
	// lead is the number of arguments before the list of L symbols (CNT's d).
	lead int
	// digitArgs: the arguments are digits by definition.
	digitArgs bool
	// decimal: the answer is a decimal number, so it needs every digit in the vocabulary.
	decimal bool
	// answer computes the answer from arguments already checked to be symbols of the right count.
	answer func(args []string) []string
}

// opSpecs holds every operation a [World] may use. Symbols are single characters 0-9 and a-z,
// totally ordered digits first: 0 < 1 < … < 9 < a < b < … < z. That is their byte order, so
// MAX, MIN and SORT compare the strings directly.
var opSpecs = map[string]opSpec{
	// FIRST x1 … xL = x1
	"FIRST": {answer: func(a []string) []string { return a[:1] }},
	// LAST x1 … xL = xL
	"LAST": {answer: func(a []string) []string { return a[len(a)-1:] }},
	// MAX x1 … xL = the largest symbol
	"MAX": {answer: func(a []string) []string { return []string{slices.Max(a)} }},
	// MIN x1 … xL = the smallest symbol
	"MIN": {answer: func(a []string) []string { return []string{slices.Min(a)} }},
	// SORT x1 … xL = the symbols in ascending order, repeats kept
	"SORT": {answer: func(a []string) []string {
		s := slices.Clone(a)
		slices.Sort(s)
		return s
	}},
	// REV x1 … xL = xL … x1
	"REV": {answer: func(a []string) []string {
		s := slices.Clone(a)
		slices.Reverse(s)
		return s
	}},
	// DUP x1 … xL = x1 x1 x2 x2 … xL xL
	"DUP": {answer: func(a []string) []string {
		s := make([]string, 0, 2*len(a))
		for _, x := range a {
			s = append(s, x, x)
		}
		return s
	}},
	// ADD a1 a2 b1 b2 = the decimal digits of a1a2 + b1b2 without leading zeros: two zero-padded
	// 2-digit operands, so ADD 0 7 1 5 = 2 2 and ADD 9 9 9 9 = 1 9 8.
	"ADD": {fixedArgs: 4, digitArgs: true, decimal: true, answer: func(a []string) []string {
		n := func(hi, lo string) int { return 10*int(hi[0]-'0') + int(lo[0]-'0') }
		return decimalDigits(n(a[0], a[1]) + n(a[2], a[3]))
	}},
	// CNT d x1 … xL = the decimal digits of how many xi equal d: CNT 3 1 3 3 = 2.
	"CNT": {lead: 1, decimal: true, answer: func(a []string) []string {
		c := 0
		for _, x := range a[1:] {
			if x == a[0] {
				c++
			}
		}
		return decimalDigits(c)
	}},
}

// decimalDigits returns the decimal digits of n ≥ 0 as separate words.
func decimalDigits(n int) []string { return strings.Split(strconv.Itoa(n), "") }

// isSymbol reports whether s is a symbol: one character 0-9 or a-z.
func isSymbol(s string) bool {
	return len(s) == 1 && (s[0] >= '0' && s[0] <= '9' || s[0] >= 'a' && s[0] <= 'z')
}

// isDigit reports whether s is one decimal digit.
func isDigit(s string) bool { return len(s) == 1 && s[0] >= '0' && s[0] <= '9' }

// Answer is the world's reference implementation of every operation: FIRST, LAST, MAX, MIN, SORT,
// REV, DUP, ADD and CNT (see the World documentation for their definitions). Arguments are symbols
// (one character 0-9 or a-z); ADD needs exactly four digits, CNT at least two symbols, the others
// at least one.
func Answer(op string, args []string) ([]string, error) {
	spec, ok := opSpecs[op]
	if !ok {
		return nil, fmt.Errorf("unknown operation %q", op)
	}
	for _, a := range args {
		if !isSymbol(a) || spec.digitArgs && !isDigit(a) {
			return nil, fmt.Errorf("%s: bad argument %q", op, a)
		}
	}
	switch {
	case spec.fixedArgs > 0 && len(args) != spec.fixedArgs:
		return nil, fmt.Errorf("%s: needs %d arguments, got %d", op, spec.fixedArgs, len(args))
	case len(args) < spec.lead+1:
		return nil, fmt.Errorf("%s: needs at least %d arguments, got %d", op, spec.lead+1, len(args))
	}
	return spec.answer(args), nil
}

// AnswerPrompt answers a world prompt "OP x1 … xn" with the space-joined answer, e.g. for an
// oracle reward on prompts that come without answers.
func AnswerPrompt(prompt string) (string, error) {
	words := strings.Fields(prompt)
	if len(words) == 0 {
		return "", fmt.Errorf("empty prompt")
	}
	ans, err := Answer(words[0], words[1:])
	if err != nil {
		return "", err
	}
	return strings.Join(ans, " "), nil
}

// argCount returns the number of arguments of op at argument length L.
func argCount(op string, L int) int {
	spec := opSpecs[op]
	if spec.fixedArgs > 0 {
		return spec.fixedArgs
	}
	return L + spec.lead
}
