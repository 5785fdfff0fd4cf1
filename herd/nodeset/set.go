package nodeset

import (
	"slices"
	"strconv"
	"strings"
)

// Set is a set of node names. The zero value is not usable; call New.
type Set struct {
	m map[string]struct{}
}

// New returns a set holding names.
func New(names ...string) *Set {
	s := &Set{m: make(map[string]struct{}, len(names))}
	for _, n := range names {
		s.Add(n)
	}
	return s
}

// Add adds name to s.
func (s *Set) Add(name string) { s.m[name] = struct{}{} }

// AddSet adds every name of t to s.
func (s *Set) AddSet(t *Set) {
	for n := range t.m {
		s.m[n] = struct{}{}
	}
}

// Has reports whether name is in s.
func (s *Set) Has(name string) bool {
	_, ok := s.m[name]
	return ok
}

// Len returns how many names s holds.
func (s *Set) Len() int { return len(s.m) }

// Union returns s ∪ t.
func (s *Set) Union(t *Set) *Set {
	u := New()
	u.AddSet(s)
	u.AddSet(t)
	return u
}

// Difference returns s ∖ t.
func (s *Set) Difference(t *Set) *Set {
	u := New()
	for n := range s.m {
		if !t.Has(n) {
			u.Add(n)
		}
	}
	return u
}

// Intersection returns s ∩ t.
func (s *Set) Intersection(t *Set) *Set {
	u := New()
	for n := range s.m {
		if t.Has(n) {
			u.Add(n)
		}
	}
	return u
}

// Equal reports whether s and t hold the same names.
func (s *Set) Equal(t *Set) bool {
	if s.Len() != t.Len() {
		return false
	}
	for n := range s.m {
		if !t.Has(n) {
			return false
		}
	}
	return true
}

// Names returns the names in natural order: web2 before web10.
func (s *Set) Names() []string {
	names := make([]string, 0, len(s.m))
	for n := range s.m {
		names = append(names, n)
	}
	slices.SortFunc(names, Compare)
	return names
}

// String returns s folded, as Fold does.
func (s *Set) String() string { return Fold(s.Names()) }

// Compare orders names naturally: runs of digits compare by value, then by
// length (so 1 comes before 01), and the rest byte by byte.
func Compare(a, b string) int {
	ta, tb := tokenize(a), tokenize(b)
	for i := 0; i < len(ta) && i < len(tb); i++ {
		x, y := ta[i], tb[i]
		if x.num && y.num {
			if x.val != y.val {
				if x.val < y.val {
					return -1
				}
				return 1
			}
			if c := len(x.text) - len(y.text); c != 0 {
				return c
			}
			continue
		}
		if c := strings.Compare(x.text, y.text); c != 0 {
			return c
		}
	}
	return len(ta) - len(tb)
}

// token is a run of a name: digits (num) or anything else.
type token struct {
	text string
	num  bool
	val  int64
}

// tokenize splits name into alternating text and number runs; a digit run
// too long for an int64 stays text, as the parser cannot write it as a range.
func tokenize(name string) []token {
	var out []token
	add := func(t token) {
		if !t.num && len(out) > 0 && !out[len(out)-1].num {
			out[len(out)-1].text += t.text
			return
		}
		out = append(out, t)
	}
	for i := 0; i < len(name); {
		j := i
		digits := name[i] >= '0' && name[i] <= '9'
		for j < len(name) && (name[j] >= '0' && name[j] <= '9') == digits {
			j++
		}
		t := token{text: name[i:j]}
		if digits && j-i <= maxDigits {
			t.num = true
			t.val, _ = strconv.ParseInt(t.text, 10, 64)
		}
		add(t)
		i = j
	}
	return out
}

// pattern is a folded group of names: texts[0] nums[0] texts[1] ... with
// one more text than number fields; each nums[i] is a set of digit strings.
type pattern struct {
	texts []string
	nums  [][]string
}

func patternOf(name string) *pattern {
	p := &pattern{texts: []string{""}}
	for _, t := range tokenize(name) {
		if t.num {
			p.nums = append(p.nums, []string{t.text})
			p.texts = append(p.texts, "")
		} else {
			p.texts[len(p.texts)-1] += t.text
		}
	}
	return p
}

// keyWithout is the pattern written out with field i left blank: the
// patterns that share it differ in field i only, so their fields i merge
// without changing the set of names they stand for.
func (p *pattern) keyWithout(i int) string {
	var b strings.Builder
	for j, t := range p.texts {
		b.WriteString(t)
		if j < len(p.nums) {
			b.WriteByte(0)
			if j != i {
				b.WriteString(rangeText(p.nums[j]))
			}
			b.WriteByte(0)
		}
	}
	return b.String()
}

func (p *pattern) String() string {
	var b strings.Builder
	for j, t := range p.texts {
		b.WriteString(t)
		if j < len(p.nums) {
			b.WriteString(rangeText(p.nums[j]))
		}
	}
	return b.String()
}

// Fold writes names as a node set expression, as short as field-by-field
// merging makes it: web01,web02,web03 becomes web[01-03], and the fields of
// rack1-node1 … rack2-node16 fold into rack[1-2]-node[1-16]. Parsing the
// result gives names back.
func Fold(names []string) string {
	pats := make([]*pattern, 0, len(names))
	for _, n := range names {
		pats = append(pats, patternOf(n))
	}
	// Merge the last field first: it is the one that varies fastest in
	// names as people number them, which gives clush's folding.
	for changed := true; changed; {
		changed = false
		maxFields := 0
		for _, p := range pats {
			maxFields = max(maxFields, len(p.nums))
		}
		for i := maxFields - 1; i >= 0; i-- {
			var merged bool
			pats, merged = mergeField(pats, i)
			changed = changed || merged
		}
	}
	out := make([]string, len(pats))
	for i, p := range pats {
		out[i] = p.String()
	}
	slices.SortFunc(out, Compare)
	return strings.Join(out, ",")
}

// mergeField merges the patterns that differ only in field i.
func mergeField(pats []*pattern, i int) ([]*pattern, bool) {
	byKey := map[string]*pattern{}
	out := pats[:0:0]
	merged := false
	for _, p := range pats {
		if len(p.nums) <= i {
			out = append(out, p)
			continue
		}
		k := keyWithout(p, i)
		if q, ok := byKey[k]; ok {
			q.nums[i] = append(q.nums[i], p.nums[i]...)
			merged = true
			continue
		}
		byKey[k] = p
		out = append(out, p)
	}
	return out, merged
}

func keyWithout(p *pattern, i int) string { return p.keyWithout(i) }

// rangeText writes a field's digit strings: a lone number as itself, more
// as [a-b,c], each run of consecutive values sharing one padding.
func rangeText(nums []string) string {
	if len(nums) == 1 {
		return nums[0]
	}
	sorted := slices.Clone(nums)
	slices.SortFunc(sorted, Compare)
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < len(sorted); {
		first := sorted[i]
		width := 0
		if len(first) > 1 && first[0] == '0' {
			width = len(first)
		}
		v, _ := strconv.ParseInt(first, 10, 64)
		j := i + 1
		for j < len(sorted) && sorted[j] == pad(v+int64(j-i), width) {
			j++
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(first)
		if j-i > 1 {
			b.WriteByte('-')
			b.WriteString(sorted[j-1])
		}
		i = j
	}
	b.WriteByte(']')
	return b.String()
}
