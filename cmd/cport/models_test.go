package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// A malformed or out-of-range flag is refused with a message naming it.
func TestBenchModelsRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--models", "process,fibers"}, `unknown model "fibers"`},
		{[]string{"--conns", "lots"}, "-conns"},
		{[]string{"--conns", "0"}, "--conns 0"},
		{[]string{"--duration", "3"}, "-duration"},
		{[]string{"--idle", "-5"}, "--idle -5"},
		{[]string{"--switches", "0"}, "--switches 0"},
		{[]string{"--rounds", "0"}, "--rounds 0"},
		{[]string{"--server-cpu", "-2"}, "--server-cpu"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		err := runBench(append([]string{"models"}, tc.args...), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("bench models %v: error %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}

// The chart is well-formed XML, names every model, and escapes text.
func TestModelsSVGIsWellFormed(t *testing.T) {
	var results []modelResult
	for i, m := range serverModels {
		results = append(results, modelResult{model: m, msgsPerS: float64(1000 * (i + 1)), cpuUS: 1.5, pss: 100, switchNS: 200})
	}
	results[0].model = "a<b&c" // escaping must survive odd names
	var buf bytes.Buffer
	if err := writeModelsSVG(&buf, modelsConfig{conns: 4, size: 64, idle: 20, rounds: 1}, results); err != nil {
		t.Fatal(err)
	}
	texts := checkSVG(t, buf.Bytes())
	for _, r := range results {
		if !strings.Contains(texts, r.model) {
			t.Errorf("the chart does not mention %q", r.model)
		}
	}
}

// checkSVG parses an SVG document to its end and returns its text.
func checkSVG(t *testing.T, doc []byte) string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	var texts strings.Builder
	root := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
		case xml.CharData:
			texts.Write(tok)
			texts.WriteByte('\n')
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	return texts.String()
}
