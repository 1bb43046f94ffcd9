// Command chart draws horizontal bar charts as one SVG file, with no plotting
// tool: the benchmark drivers write a spec and BENCHMARKS.md embeds the SVG.
//
//	chart -o docs/bench/peers.svg build/bench/peers-chart.json
//
// The spec is JSON: {"title":…,"subtitle":…,"panels":[{"title":…,"unit":…,
// "bars":[{"label":…,"value":…,"note":…,"group":"peer"}]}]}. Each panel has
// its own scale, starting at zero; a bar's group picks its colour.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
)

// Spec is the chart description read from the input file.
type Spec struct {
	Title    string  `json:"title"`
	Subtitle string  `json:"subtitle"`
	Panels   []Panel `json:"panels"`
}

// Panel is one bar chart with its own scale.
type Panel struct {
	Title string `json:"title"`
	Unit  string `json:"unit"`
	Bars  []Bar  `json:"bars"`
}

// Bar is one horizontal bar; Note is printed after the value (a ratio, say).
type Bar struct {
	Label string  `json:"label"`
	Value float64 `json:"value"`
	Note  string  `json:"note,omitempty"`
	Group string  `json:"group,omitempty"`
}

const (
	width    = 960
	labelW   = 300 // left column with the bar labels
	barMaxW  = 440
	rowH     = 22
	barH     = 15
	panelGap = 18
	titleH   = 22
)

// Colours by group; anything else is grey.
var colours = map[string]string{"netmesh": "#2f6fb0", "peer": "#9a9a9a", "goal": "#d08a2c"}

func main() {
	out := flag.String("o", "", "SVG file to write")
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: chart -o OUT.svg SPEC.json")
		os.Exit(2)
	}
	data, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fail(err)
	}
	var spec Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		fail(fmt.Errorf("%s: %w", flag.Arg(0), err))
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		fail(err)
	}
	if err := os.WriteFile(*out, render(spec), 0o644); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "chart:", err)
	os.Exit(1)
}

func render(spec Spec) []byte {
	height := 56
	for _, p := range spec.Panels {
		height += titleH + rowH*len(p.Bars) + panelGap
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="16" font-weight="bold">%s</text>`+"\n", esc(spec.Title))
	fmt.Fprintf(&b, `<text x="10" y="40" fill="#555">%s</text>`+"\n", esc(spec.Subtitle))
	y := 56
	for _, p := range spec.Panels {
		y = panel(&b, p, y)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// panel draws p from y down and returns where the next one starts.
func panel(b *bytes.Buffer, p Panel, y int) int {
	fmt.Fprintf(b, `<text x="10" y="%d" font-weight="bold">%s</text>`+"\n", y+15, esc(p.Title+" ("+p.Unit+")"))
	y += titleH
	top := 0.0
	for _, bar := range p.Bars {
		top = math.Max(top, bar.Value)
	}
	for _, bar := range p.Bars {
		w := 0.0
		if top > 0 && bar.Value > 0 {
			w = math.Max(1, bar.Value/top*barMaxW)
		}
		colour, ok := colours[bar.Group]
		if !ok {
			colour = "#bbbbbb"
		}
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelW-8, y+12, esc(bar.Label))
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", labelW, y+1, w, barH, colour)
		text := human(bar.Value)
		if bar.Note != "" {
			text += "  " + bar.Note
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(labelW)+w+6, y+12, esc(text))
		y += rowH
	}
	return y + panelGap
}

// human prints 1234567 as 1.23M, 45600 as 45.6k, 0.0123 as 0.0123.
func human(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case a >= 1e3:
		return fmt.Sprintf("%.3gk", v/1e3)
	case a >= 1 || a == 0:
		return fmt.Sprintf("%.3g", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func esc(s string) string { return html.EscapeString(s) }
