package nodeset

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultLimit bounds how many names one expression may expand to, so that a
// typo such as n[1-99999999] fails at once instead of eating the memory.
const DefaultLimit = 1 << 20

// maxDigits keeps every number in a range inside an int64.
const maxDigits = 18

// maxDepth bounds group nesting; deeper means a cycle in practice.
const maxDepth = 32

// Resolver looks up a group: it returns the node set expression that
// defines the group named name (without the @).
type Resolver interface {
	Group(name string) (expr string, err error)
}

// SyntaxError is a malformed expression. Pos is the byte offset in Expr of
// the character at fault.
type SyntaxError struct {
	Expr string
	Pos  int
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("nodeset: %s at column %d of %q", e.Msg, e.Pos+1, e.Expr)
}

// Caret returns the expression and, under it, a caret at the character at
// fault, for a terminal.
func (e *SyntaxError) Caret() string {
	return e.Expr + "\n" + strings.Repeat(" ", e.Pos) + "^ " + e.Msg
}

// Parser parses expressions. Its zero value parses expressions without
// groups, up to DefaultLimit names.
type Parser struct {
	// Groups resolves @name terms; nil makes them an error.
	Groups Resolver
	// Limit is the most names an expression may expand to; 0 means
	// DefaultLimit.
	Limit int
}

// Parse parses expr with the zero Parser.
func Parse(expr string) (*Set, error) {
	var p Parser
	return p.Parse(expr)
}

// Parse returns the set expr denotes.
func (p *Parser) Parse(expr string) (*Set, error) {
	return p.parse(expr, 0, nil)
}

func (p *Parser) limit() int {
	if p.Limit > 0 {
		return p.Limit
	}
	return DefaultLimit
}

// parse evaluates expr; seen holds the groups being expanded, to report a
// cycle by name rather than by depth.
func (p *Parser) parse(expr string, depth int, seen []string) (*Set, error) {
	s := &scanner{expr: expr}
	result := New()
	if s.skipSpace(); s.eof() {
		return result, nil // the empty expression is the empty set
	}
	op := byte(',')
	for {
		s.skipSpace()
		if s.eof() {
			return nil, s.errorf(s.pos, "missing node name after %q", op)
		}
		start := s.pos
		term, err := p.term(s, depth, seen)
		if err != nil {
			return nil, err
		}
		switch op {
		case ',':
			result.AddSet(term)
		case '!':
			result = result.Difference(term)
		case '&':
			result = result.Intersection(term)
		}
		if result.Len() > p.limit() {
			return nil, s.errorf(start, "more than %d nodes", p.limit())
		}
		s.skipSpace()
		if s.eof() {
			return result, nil
		}
		c := s.expr[s.pos]
		switch c {
		case ',', '!', '&':
			op = c
			s.pos++
		default:
			return nil, s.errorf(s.pos, "unexpected %q", c)
		}
	}
}

type scanner struct {
	expr string
	pos  int
}

func (s *scanner) eof() bool { return s.pos >= len(s.expr) }

func (s *scanner) skipSpace() {
	for !s.eof() && isSpace(s.expr[s.pos]) {
		s.pos++
	}
}

// isSpace reports whether c is ASCII white space, the only white space the
// syntax knows: anything else is part of a name or an error.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func (s *scanner) errorf(pos int, format string, args ...any) error {
	return &SyntaxError{Expr: s.expr, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// isOp reports whether c ends a term.
func isOp(c byte) bool { return c == ',' || c == '!' || c == '&' || isSpace(c) }

// nameByte reports whether c may appear in a name outside brackets. The
// excluded bytes are the syntax itself, whitespace, controls and the shell
// and glob characters that in a host name can only be a mistake.
func nameByte(c byte) bool {
	if c <= ' ' || c == 0x7f {
		return false
	}
	return !strings.ContainsRune(",!&[]\"'`$*?;|<>(){}\\#", rune(c))
}

// badRune says what is wrong with the non-ASCII character that starts rest
// as part of a name, or returns "" if nothing is: Unicode white space and
// controls (U+0085, U+00A0) look like separators or nothing at all on a
// terminal, so a name holding one can only be a mistake.
func badRune(rest string) string {
	r, size := utf8.DecodeRuneInString(rest)
	switch {
	case r == utf8.RuneError && size <= 1:
		return "not UTF-8"
	case unicode.IsSpace(r), unicode.IsControl(r):
		return fmt.Sprintf("unexpected %U", r)
	}
	return ""
}

// term parses a group or a pattern at s.pos.
func (p *Parser) term(s *scanner, depth int, seen []string) (*Set, error) {
	if s.expr[s.pos] == '@' {
		return p.group(s, depth, seen)
	}
	start := s.pos
	// A pattern is literal text and bracketed ranges; its names are the
	// product of its parts, kept as partial names and extended part by part.
	names := []string{""}
	for !s.eof() && !isOp(s.expr[s.pos]) {
		c := s.expr[s.pos]
		switch {
		case c == '[':
			nums, err := p.ranges(s)
			if err != nil {
				return nil, err
			}
			if len(names)*len(nums) > p.limit() {
				return nil, s.errorf(start, "more than %d nodes", p.limit())
			}
			next := make([]string, 0, len(names)*len(nums))
			for _, n := range names {
				for _, m := range nums {
					next = append(next, n+m)
				}
			}
			names = next
		case c == ']':
			return nil, s.errorf(s.pos, "unmatched ']'")
		case !nameByte(c):
			return nil, s.errorf(s.pos, "unexpected %q", c)
		case c >= utf8.RuneSelf:
			if msg := badRune(s.expr[s.pos:]); msg != "" {
				return nil, s.errorf(s.pos, "%s", msg)
			}
			fallthrough
		default:
			lit := s.pos
			for !s.eof() && s.expr[s.pos] != '[' && s.expr[s.pos] != ']' {
				if c := s.expr[s.pos]; c < utf8.RuneSelf {
					if !nameByte(c) {
						break
					}
					s.pos++
					continue
				}
				if badRune(s.expr[s.pos:]) != "" {
					break
				}
				_, size := utf8.DecodeRuneInString(s.expr[s.pos:])
				s.pos += size
			}
			for i := range names {
				names[i] += s.expr[lit:s.pos]
			}
		}
	}
	if s.pos == start {
		return nil, s.errorf(s.pos, "missing node name")
	}
	set := New()
	for _, n := range names {
		set.Add(n)
	}
	return set, nil
}

// ranges parses "[a-b,c,...]" at s.pos and returns its numbers as text,
// padded as written.
func (p *Parser) ranges(s *scanner) ([]string, error) {
	open := s.pos
	s.pos++
	var out []string
	for {
		lo, loText, err := number(s)
		if err != nil {
			return nil, err
		}
		width := 0
		if len(loText) > 1 && loText[0] == '0' {
			width = len(loText)
		}
		hi := lo
		if !s.eof() && s.expr[s.pos] == '-' {
			s.pos++
			hiAt := s.pos
			var hiText string
			hi, hiText, err = number(s)
			if err != nil {
				return nil, err
			}
			if hi < lo {
				return nil, s.errorf(hiAt, "range end %d is below its start %d", hi, lo)
			}
			if len(hiText) > 1 && hiText[0] == '0' && len(hiText) != width {
				return nil, s.errorf(hiAt, "padding of %q differs from %q", hiText, loText)
			}
		}
		if hi-lo >= int64(p.limit()) || len(out)+int(hi-lo) >= p.limit() {
			return nil, s.errorf(open, "more than %d nodes", p.limit())
		}
		for v := lo; v <= hi; v++ {
			out = append(out, pad(v, width))
		}
		if s.eof() {
			return nil, s.errorf(open, "unclosed '['")
		}
		switch s.expr[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return dedup(out), nil
		default:
			return nil, s.errorf(s.pos, "unexpected %q in range", s.expr[s.pos])
		}
	}
}

// number parses the decimal number at s.pos.
func number(s *scanner) (int64, string, error) {
	start := s.pos
	for !s.eof() && s.expr[s.pos] >= '0' && s.expr[s.pos] <= '9' {
		s.pos++
	}
	text := s.expr[start:s.pos]
	switch {
	case text == "" && s.eof():
		return 0, "", s.errorf(start, "unclosed '['")
	case text == "":
		return 0, "", s.errorf(start, "expected a number, found %q", s.expr[start])
	case len(text) > maxDigits:
		return 0, "", s.errorf(start, "number longer than %d digits", maxDigits)
	}
	v, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return 0, "", s.errorf(start, "bad number %q", text)
	}
	return v, text, nil
}

// pad formats v with at least width digits.
func pad(v int64, width int) string {
	t := strconv.FormatInt(v, 10)
	if len(t) < width {
		t = strings.Repeat("0", width-len(t)) + t
	}
	return t
}

func dedup(nums []string) []string {
	seen := make(map[string]struct{}, len(nums))
	out := nums[:0]
	for _, n := range nums {
		if _, ok := seen[n]; !ok {
			seen[n] = struct{}{}
			out = append(out, n)
		}
	}
	return out
}

// group parses "@name" at s.pos and expands it through p.Groups.
func (p *Parser) group(s *scanner, depth int, seen []string) (*Set, error) {
	at := s.pos
	s.pos++
	for !s.eof() && groupByte(s.expr[s.pos]) {
		s.pos++
	}
	name := s.expr[at+1 : s.pos]
	if name == "" {
		return nil, s.errorf(at, "missing group name after '@'")
	}
	if !s.eof() && !isOp(s.expr[s.pos]) {
		return nil, s.errorf(s.pos, "unexpected %q in group name", s.expr[s.pos])
	}
	if p.Groups == nil {
		return nil, s.errorf(at, "group @%s: no inventory", name)
	}
	for _, g := range seen {
		if g == name {
			return nil, s.errorf(at, "group @%s contains itself (@%s)", name, strings.Join(append(seen, name), " → @"))
		}
	}
	if depth >= maxDepth {
		return nil, s.errorf(at, "groups nested deeper than %d", maxDepth)
	}
	def, err := p.Groups.Group(name)
	if err != nil {
		return nil, s.errorf(at, "group @%s: %v", name, err)
	}
	set, err := p.parse(def, depth+1, append(seen[:len(seen):len(seen)], name))
	if err != nil {
		return nil, fmt.Errorf("in group @%s: %w", name, err)
	}
	return set, nil
}

func groupByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-' || c == '.' || c == ':'
}
