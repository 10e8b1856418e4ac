package main

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// goal is the target of a figure: at least or at most a value.
type goal struct {
	atMost bool
	value  float64
	text   string // as printed, e.g. "≥ 97%"
}

func atLeast(v float64, text string) *goal { return &goal{value: v, text: text} }
func atMost(v float64, text string) *goal  { return &goal{atMost: true, value: v, text: text} }

func (g *goal) met(v float64) bool {
	if g.atMost {
		return v <= g.value
	}
	return v >= g.value
}

// figure is one row of the table.
type figure struct {
	id     string  // "1b"
	name   string  // what is measured
	value  float64 // compared with the goal
	shown  string  // value as printed
	goal   *goal   // nil: for information
	detail string  // the numbers behind the value
	err    error   // the measurement failed
}

func (f figure) status() string {
	switch {
	case f.err != nil:
		return "ERROR"
	case f.goal == nil:
		return "info"
	case f.goal.met(f.value):
		return "ok"
	}
	return "MISS"
}

func (f figure) cells() []string {
	shown, goalText, detail := f.shown, "—", f.detail
	if f.goal != nil {
		goalText = f.goal.text
	}
	if f.err != nil {
		shown, detail = "—", f.err.Error()
	}
	return []string{f.id, f.name, shown, goalText, f.status(), detail}
}

var tableHeader = []string{"#", "figure", "value", "goal", "status", "measured"}

// formatText lays the table out in aligned columns for a terminal.
func formatText(figs []figure) string {
	rows := [][]string{tableHeader}
	for _, f := range figs {
		rows = append(rows, f.cells())
	}
	widths := make([]int, len(tableHeader))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, c := range r {
			if i == len(r)-1 {
				b.WriteString(c)
				break
			}
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// formatMarkdown writes the table as GitHub markdown.
func formatMarkdown(figs []figure) string {
	var b strings.Builder
	writeRow := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + strings.ReplaceAll(c, "|", `\|`) + " |")
		}
		b.WriteString("\n")
	}
	writeRow(tableHeader)
	b.WriteString("|---|---|--:|---|---|---|\n")
	for _, f := range figs {
		writeRow(f.cells())
	}
	return b.String()
}

func percent(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }
func times(v float64) string   { return fmt.Sprintf("%.2f×", v) }
