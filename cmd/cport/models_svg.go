package main

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
)

// SVG layout: one small bar chart per figure, two by two.
const (
	svgPanelW = 400
	svgPanelH = 260
	svgTitleH = 40
	svgBarTop = 40  // within a panel, below its title
	svgBarBot = 200 // the bars' baseline, within a panel
)

// modelMetric is one figure of the table and how to draw it.
type modelMetric struct {
	title  string
	format string
	get    func(modelResult) float64
}

var modelMetrics = []modelMetric{
	{"messages per second (higher is better)", "%.0f", func(r modelResult) float64 { return r.msgsPerS }},
	{"server CPU µs per message", "%.2f", func(r modelResult) float64 { return r.cpuUS }},
	{"Pss bytes per idle connection", "%.0f", func(r modelResult) float64 { return r.pss }},
	{"ns per switch round trip", "%.0f", func(r modelResult) float64 { return r.switchNS }},
}

// svgModelColors gives each model the same colour in every panel.
var svgModelColors = []string{"#b2182b", "#ef8a62", "#999999", "#67a9cf", "#2166ac"}

// writeModelsSVG draws the results as four bar charts, one per figure.
func writeModelsSVG(w io.Writer, cfg modelsConfig, results []modelResult) error {
	bw := bufio.NewWriter(w)
	width, height := 2*svgPanelW, svgTitleH+2*svgPanelH
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	fmt.Fprintf(bw, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	svgText(bw, width/2, 24, "middle", 15, fmt.Sprintf("echo served five ways: %d conns × %d B, %d idle conns, median of %d round(s)",
		cfg.conns, cfg.size, cfg.idle, cfg.rounds))
	for i, m := range modelMetrics {
		x0, y0 := (i%2)*svgPanelW, svgTitleH+(i/2)*svgPanelH
		writeSVGPanel(bw, x0, y0, m, results)
	}
	fmt.Fprintln(bw, "</svg>")
	return bw.Flush()
}

func writeSVGPanel(w io.Writer, x0, y0 int, m modelMetric, results []modelResult) {
	fmt.Fprintf(w, `<g transform="translate(%d,%d)">`+"\n", x0, y0)
	scale := barScale(m, results)
	title := m.title
	if scale.log {
		title += " (log scale)"
	}
	svgText(w, svgPanelW/2, 20, "middle", 13, title)
	n := max(len(results), 1)
	slot := (svgPanelW - 40) / n
	barW := slot * 3 / 5
	fmt.Fprintf(w, `<line x1="20" y1="%d" x2="%d" y2="%d" stroke="#333"/>`+"\n", svgBarBot, svgPanelW-20, svgBarBot)
	for i, r := range results {
		v := m.get(r)
		h := int(float64(svgBarBot-svgBarTop) * scale.frac(v))
		x := 20 + i*slot + (slot-barW)/2
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n",
			x, svgBarBot-h, barW, h, svgModelColors[i%len(svgModelColors)])
		svgText(w, x+barW/2, svgBarBot-h-4, "middle", 11, fmt.Sprintf(m.format, v))
		svgText(w, x+barW/2, svgBarBot+16, "middle", 12, r.model)
	}
	fmt.Fprintln(w, "</g>")
}

// scale maps a figure to the fraction of the full bar height it gets.
type scale struct {
	log     bool
	lo, top float64
}

// barScale is linear unless the models' figures span more than
// logSpan: a process per connection costs a thousand times the memory
// of a callback, and on a linear scale the lighter bars would vanish.
func barScale(m modelMetric, results []modelResult) scale {
	const logSpan = 30
	var lo, top float64
	for _, r := range results {
		v := m.get(r)
		top = max(top, v)
		if v > 0 && (lo == 0 || v < lo) {
			lo = v
		}
	}
	if lo > 0 && top/lo > logSpan {
		// Half the smallest figure is the floor, so its bar still shows.
		return scale{log: true, lo: lo / 2, top: top}
	}
	return scale{top: top}
}

func (s scale) frac(v float64) float64 {
	switch {
	case v <= 0 || s.top <= 0:
		return 0
	case s.log:
		return math.Log(v/s.lo) / math.Log(s.top/s.lo)
	default:
		return v / s.top
	}
}

// svgText writes a text element, its content escaped for XML.
func svgText(w io.Writer, x, y int, anchor string, size int, s string) {
	var esc strings.Builder
	xml.EscapeText(&esc, []byte(s))
	fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="%s" font-size="%d">%s</text>`+"\n", x, y, anchor, size, esc.String())
}
