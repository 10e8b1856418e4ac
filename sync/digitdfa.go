package sync

import (
	"encoding/binary"
	"regexp/syntax"
	"slices"
)

// digitDFA decides whether a string of ASCII digits matches a pattern of
// the phone metadata, anchored at both ends, with one table lookup per
// digit. The patterns (a region's fixed-line numbers, say) are long
// alternations of prefixes that share digits, so regexp runs them with its
// backtracker: some 300ns a number, a third of normalising a record. The
// table is built once from the program regexp compiles the pattern to, by
// following every thread of it at once (a subset construction), so it
// accepts exactly the strings regexp matches.
type digitDFA struct {
	next   [][10]int32 // next[s][d] is the state after digit d in state s; dead when no thread survives
	accept []bool      // accept[s]: the input may end in state s
}

// dead is the state no thread of the pattern survives to: no input from
// there matches.
const dead = -1

// maxDFAStates bounds a table: beyond it the pattern stays with regexp.
const maxDFAStates = 4096

// newDigitDFA builds the table of pattern, which regexp.MustCompile takes
// (Perl syntax) and which is anchored at both ends. It returns nil when the
// pattern needs what a table of digits cannot say (a word boundary), or
// when the table would be too big: the caller then keeps using regexp.
func newDigitDFA(pattern string) *digitDFA {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil
	}
	b := dfaBuilder{prog: prog, ids: map[string]int32{}, m: &digitDFA{}, seen: make([]uint32, len(prog.Inst))}
	if b.state([]uint32{uint32(prog.Start)}, true) != 0 {
		return nil
	}
	for s := 0; s < len(b.m.next); s++ {
		if b.failed || len(b.m.next) > maxDFAStates {
			return nil
		}
		threads := b.closure(b.pcs[s], b.begin[s], false)
		for d := range 10 {
			var out []uint32
			for _, pc := range threads {
				if in := &prog.Inst[pc]; readsDigit(in, rune('0'+d)) {
					out = append(out, in.Out)
				}
			}
			b.m.next[s][d] = b.state(out, false)
		}
	}
	if b.failed || len(b.m.next) > maxDFAStates {
		return nil
	}
	return b.m
}

// readsDigit reports whether in reads the digit r (a match reads nothing).
func readsDigit(in *syntax.Inst, r rune) bool {
	switch in.Op {
	case syntax.InstRune, syntax.InstRune1:
		return in.MatchRune(r)
	case syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
		return true
	}
	return false
}

// match reports whether s matches; ok is false when s holds anything but
// ASCII digits, which the table does not know.
func (m *digitDFA) match(s string) (matched, ok bool) {
	state := int32(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false, false
		}
		if state = m.next[state][c-'0']; state == dead {
			// Read the rest to say whether it is all digits.
			for i++; i < len(s); i++ {
				if s[i] < '0' || s[i] > '9' {
					return false, false
				}
			}
			return false, true
		}
	}
	return m.accept[state], true
}

// dfaBuilder numbers the states of a digitDFA as it finds them. A state is
// the set of program counters the threads reached after a digit (before
// following their empty steps), and whether no digit was read yet.
type dfaBuilder struct {
	prog   *syntax.Prog
	m      *digitDFA
	ids    map[string]int32
	pcs    [][]uint32
	begin  []bool
	failed bool
	// seen[pc] == walk marks the instructions the walk under way in
	// closure has been to.
	seen []uint32
	walk uint32
	key  []byte
}

// state returns the number of the state of pcs, adding it when new.
func (b *dfaBuilder) state(pcs []uint32, begin bool) int32 {
	if len(pcs) == 0 {
		return dead
	}
	slices.Sort(pcs)
	pcs = slices.Compact(pcs)
	b.key = append(b.key[:0], 0)
	if begin {
		b.key[0] = 1
	}
	for _, pc := range pcs {
		b.key = binary.LittleEndian.AppendUint32(b.key, pc)
	}
	if id, ok := b.ids[string(b.key)]; ok {
		return id
	}
	id := int32(len(b.pcs))
	b.ids[string(b.key)] = id
	b.pcs, b.begin = append(b.pcs, pcs), append(b.begin, begin)
	b.m.next = append(b.m.next, [10]int32{})
	// The input ends here when a thread reaches a match with the end of
	// the text satisfied.
	b.m.accept = append(b.m.accept, slices.ContainsFunc(b.closure(pcs, begin, true), func(pc uint32) bool {
		return b.prog.Inst[pc].Op == syntax.InstMatch
	}))
	return id
}

// closure follows the empty steps of the threads at pcs, at the start of
// the text (begin) or at its end (end), and returns the instructions they
// wait on: those that read a rune, and a match. A step that depends on
// the text around it other than its ends (a word boundary) fails the
// build.
func (b *dfaBuilder) closure(pcs []uint32, begin, end bool) []uint32 {
	var out []uint32
	b.walk++
	stack := slices.Clone(pcs)
	for len(stack) > 0 {
		pc := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if b.seen[pc] == b.walk {
			continue
		}
		b.seen[pc] = b.walk
		in := &b.prog.Inst[pc]
		switch in.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			stack = append(stack, in.Out, in.Arg)
		case syntax.InstCapture, syntax.InstNop:
			stack = append(stack, in.Out)
		case syntax.InstEmptyWidth:
			op := syntax.EmptyOp(in.Arg)
			var have syntax.EmptyOp
			if begin {
				have |= syntax.EmptyBeginText | syntax.EmptyBeginLine
			}
			if end {
				have |= syntax.EmptyEndText | syntax.EmptyEndLine
			}
			if op&(syntax.EmptyWordBoundary|syntax.EmptyNoWordBoundary) != 0 {
				b.failed = true
				return nil
			}
			if op&^have == 0 {
				stack = append(stack, in.Out)
			}
		case syntax.InstMatch, syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			out = append(out, pc)
		case syntax.InstFail:
		default:
			b.failed = true
			return nil
		}
	}
	return out
}
