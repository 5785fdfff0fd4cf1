package nodeset

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

var parseTests = []struct {
	expr string
	want []string // in natural order
}{
	{"", nil},
	{" \t\r\n", nil},
	{" web1\n", []string{"web1"}},
	{"web1", []string{"web1"}},
	{"web[1-3]", []string{"web1", "web2", "web3"}},
	{"web[01-03,10]", []string{"web01", "web02", "web03", "web10"}},
	{"web[08-10]", []string{"web08", "web09", "web10"}},
	{"web[8-10]", []string{"web8", "web9", "web10"}},
	{"web[098-100]", []string{"web098", "web099", "web100"}},
	{"r[1-2]-n[01-02]", []string{"r1-n01", "r1-n02", "r2-n01", "r2-n02"}},
	{"10.0.[0-1].[1-2]", []string{"10.0.0.1", "10.0.0.2", "10.0.1.1", "10.0.1.2"}},
	{"root@db[1-2]:2222", []string{"root@db1:2222", "root@db2:2222"}},
	{"a,b,a", []string{"a", "b"}},
	{"n[1-5]!n[2-3]", []string{"n1", "n4", "n5"}},
	{"n[1-5]&n[4-9]", []string{"n4", "n5"}},
	{"n[1-3],n[5-6]!n[2-5]", []string{"n1", "n6"}}, // left to right
	{"n[1-3] , n9", []string{"n1", "n2", "n3", "n9"}},
	{"[1-2]x", []string{"1x", "2x"}},
	{"n[3,1,2,2]", []string{"n1", "n2", "n3"}},
	{"n[1,01]", []string{"n1", "n01"}},
	{"@web!web02", []string{"web01", "web03"}},
	{"@all", []string{"db1", "db2", "web01", "web02", "web03"}},
	{"@all&@db", []string{"db1", "db2"}},
}

var testGroups = Inventory{
	"web":   "web[01-03]",
	"db":    "db[1-2]",
	"all":   "@web,@db",
	"loop":  "@loop2",
	"loop2": "x,@loop",
	"bad":   "n[1-",
}

func TestParse(t *testing.T) {
	p := Parser{Groups: testGroups}
	for _, tt := range parseTests {
		s, err := p.Parse(tt.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		if got := s.Names(); !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
			t.Errorf("Parse(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}

var errorTests = []struct {
	expr string
	pos  int
	msg  string
}{
	{"web[1-", 6, "unclosed"},
	{"web[1-3", 3, "unclosed"},
	{"web[a]", 4, "expected a number"},
	{"web[3-1]", 6, "below its start"},
	{"web[1-3]]", 8, "unmatched"},
	{"a,,b", 2, "missing node name"},
	{"a,", 2, "missing node name"},
	{"!a", 0, "missing node name"},
	{"a b", 2, "unexpected"},
	{"we$b", 2, "unexpected"},
	{"n[1-05]", 4, "padding"},
	{"n[1;2]", 3, "in range"},
	{"@", 0, "missing group name"},
	{"@nope", 0, "no such group"},
	{"a,@web[1]", 6, "in group name"},
	{"n[1-1234567890123456789]", 4, "longer than"},
	{"n[0-99999999]", 1, "more than"},
	// Unicode white space and controls are not names: a whole expression
	// of U+0085 (NEL) used to be the empty set, the same bytes before an
	// operator a node named U+0085.
	{"\u0085", 0, "unexpected"},
	{"\u0085!0", 0, "unexpected"},
	{"web\u00a01", 3, "unexpected"},
	{"web\u009f", 3, "unexpected"},
	{"web\xff", 3, "not UTF-8"},
}

func TestParseErrors(t *testing.T) {
	p := Parser{Groups: testGroups}
	for _, tt := range errorTests {
		_, err := p.Parse(tt.expr)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) error = %v, want a *SyntaxError", tt.expr, err)
			continue
		}
		if se.Pos != tt.pos || !strings.Contains(se.Msg, tt.msg) {
			t.Errorf("Parse(%q) error at %d %q, want at %d containing %q", tt.expr, se.Pos, se.Msg, tt.pos, tt.msg)
		}
	}
}

func TestCaret(t *testing.T) {
	_, err := Parse("web[1-x]")
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v, want a *SyntaxError", err)
	}
	want := "web[1-x]\n      ^ expected a number, found 'x'"
	if got := se.Caret(); got != want {
		t.Errorf("Caret() =\n%s\nwant\n%s", got, want)
	}
}

func TestGroupErrors(t *testing.T) {
	p := Parser{Groups: testGroups}
	_, err := p.Parse("@loop")
	if err == nil || !strings.Contains(err.Error(), "contains itself") {
		t.Errorf("Parse(@loop) error = %v, want a cycle", err)
	}
	_, err = p.Parse("a,@bad")
	var se *SyntaxError
	if !errors.As(err, &se) || se.Expr != "n[1-" || !strings.Contains(err.Error(), "in group @bad") {
		t.Errorf("Parse(a,@bad) error = %v, want the group's own syntax error", err)
	}
	var noGroups Parser
	if _, err := noGroups.Parse("@web"); err == nil || !strings.Contains(err.Error(), "no inventory") {
		t.Errorf("Parse(@web) without inventory error = %v", err)
	}
}

var foldTests = []struct {
	names []string
	want  string
}{
	{nil, ""},
	{[]string{"web1"}, "web1"},
	{[]string{"web1", "web2", "web3", "web5"}, "web[1-3,5]"},
	{[]string{"web09", "web10", "web08"}, "web[08-10]"},
	{[]string{"web9", "web10"}, "web[9-10]"},
	{[]string{"web09", "web10", "web11", "web1"}, "web[1,09-11]"},
	{[]string{"n1", "n01"}, "n[1,01]"},
	{[]string{"r1-n1", "r1-n2", "r2-n1", "r2-n2"}, "r[1-2]-n[1-2]"},
	{[]string{"r1-n1", "r1-n2", "r2-n1"}, "r1-n[1-2],r2-n1"},
	{[]string{"10.0.0.1", "10.0.0.2", "10.0.1.1", "10.0.1.2"}, "10.0.[0-1].[1-2]"},
	{[]string{"a", "b", "web1", "db2", "db1"}, "a,b,db[1-2],web1"},
	{[]string{"x", "x1"}, "x,x1"},
}

func TestFold(t *testing.T) {
	for _, tt := range foldTests {
		if got := Fold(tt.names); got != tt.want {
			t.Errorf("Fold(%q) = %q, want %q", tt.names, got, tt.want)
		}
		s, err := Parse(tt.want)
		if err != nil || !s.Equal(New(tt.names...)) {
			t.Errorf("Parse(Fold(%q)) = %v, %v; want the same names", tt.names, s, err)
		}
	}
}

func TestCompare(t *testing.T) {
	names := []string{"web10", "web2", "web02", "db1", "web1", "a10b2", "a2b10", "a2b9"}
	slices.SortFunc(names, Compare)
	want := []string{"a2b9", "a2b10", "a10b2", "db1", "web1", "web2", "web02", "web10"}
	if !slices.Equal(names, want) {
		t.Errorf("sorted = %q, want %q", names, want)
	}
}

func TestInventory(t *testing.T) {
	inv, err := ReadInventory(strings.NewReader("# groups\nweb: web[1-2] # front\n\ndb:db1\n"), "groups")
	if err != nil {
		t.Fatal(err)
	}
	if inv["web"] != "web[1-2]" || inv["db"] != "db1" || len(inv) != 2 {
		t.Errorf("inventory = %q", inv)
	}
	for _, bad := range []string{"web web1\n", "a b: x\n", "a: x\na: y\n"} {
		if _, err := ReadInventory(strings.NewReader(bad), "groups"); err == nil || !strings.Contains(err.Error(), "groups:") {
			t.Errorf("ReadInventory(%q) error = %v, want one naming the line", bad, err)
		}
	}
}

func TestHostFile(t *testing.T) {
	var p Parser
	s, err := p.ReadHostFile(strings.NewReader("# hosts\nweb1\n  web[2-3]  # more\n\nroot@db:22\n"), "hosts")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.String(), "root@db:22,web[1-3]"; got != want {
		t.Errorf("host file = %q, want %q", got, want)
	}
	_, err = p.ReadHostFile(strings.NewReader("web1\nweb[\n"), "hosts")
	if err == nil || !strings.HasPrefix(err.Error(), "hosts:2: ") {
		t.Errorf("bad host file error = %v, want it to name line 2", err)
	}
}

func FuzzNodeSet(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.expr)
	}
	for _, tt := range errorTests {
		f.Add(tt.expr)
	}
	f.Add("r[1-2]-n[08-11]!r2-n09")
	p := Parser{Groups: testGroups, Limit: 5000}
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := p.Parse(expr)
		if err != nil {
			return
		}
		folded := s.String()
		back, err := p.Parse(folded)
		if err != nil {
			t.Fatalf("Parse(%q) folded to %q, which does not parse: %v", expr, folded, err)
		}
		if !back.Equal(s) {
			t.Fatalf("Parse(%q) = %q, folded %q parses to %q", expr, s.Names(), folded, back.Names())
		}
	})
}
