// Package export renders a run's tidy results and its leaderboard as text tables, CSV, TSV,
// JSON, Markdown and Parquet: what `vistudy results`, `vistudy summary`, results.csv and
// summary.json are made of.
package export

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Formats are the text formats Write knows (parquet is the results command's own).
var Formats = []string{"table", "csv", "tsv", "json", "markdown"}

// Table is a header and rows of cells: string, float64 (NaN: missing), int64, bool or nil (missing).
type Table struct {
	Columns []string
	Units   []string // per column, "" for none: a second header line in table and markdown
	Rows    [][]any
}

// Write renders t in format to w.
func Write(w io.Writer, format string, t *Table) error {
	switch format {
	case "table":
		return writeText(w, t)
	case "csv", "tsv":
		cw := csv.NewWriter(w)
		if format == "tsv" {
			cw.Comma = '\t'
		}
		if err := cw.Write(t.Columns); err != nil {
			return err
		}
		for _, r := range t.Rows {
			rec := make([]string, len(r))
			for i, c := range r {
				rec[i] = plain(c)
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	case "json":
		out := make([]map[string]any, len(t.Rows))
		for i, r := range t.Rows {
			m := make(map[string]any, len(r))
			for j, c := range r {
				if f, ok := c.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
					c = nil
				}
				m[t.Columns[j]] = c
			}
			out[i] = m
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(out)
	case "markdown":
		return writeMarkdown(w, t)
	}
	return fmt.Errorf("unknown format %q: want one of %s", format, strings.Join(append(Formats, "parquet"), ", "))
}

// plain formats a cell for CSV: numbers in full precision, missing as empty.
func plain(c any) string {
	switch v := c.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(c)
}

// short formats a cell for reading: numbers with 4 significant digits at most, missing as "—";
// cells never hold white space, so the text table splits on it.
func short(c any) string {
	switch v := c.(type) {
	case nil:
		return "—"
	case float64:
		if math.IsNaN(v) {
			return "—"
		}
		return strconv.FormatFloat(v, 'g', 4, 64)
	case string:
		if v == "" {
			return "-"
		}
		return strings.Join(strings.Fields(v), "_")
	}
	return plain(c)
}

func writeText(w io.Writer, t *Table) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := func(cells []string) {
		for i, c := range cells {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, short(c))
		}
		fmt.Fprintln(tw)
	}
	head(t.Columns)
	if hasUnits(t) {
		head(t.Units)
	}
	for _, r := range t.Rows {
		for i, c := range r {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, short(c))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

func writeMarkdown(w io.Writer, t *Table) error {
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + esc(c) + " |")
		}
		b.WriteString("\n")
	}
	line(t.Columns)
	sep := make([]string, len(t.Columns))
	for i := range sep {
		sep[i] = "---"
	}
	line(sep)
	if hasUnits(t) {
		units := make([]string, len(t.Units))
		for i, u := range t.Units {
			if u != "" {
				units[i] = "*" + u + "*"
			}
		}
		line(units)
	}
	for _, r := range t.Rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = short(c)
			if s, ok := c.(string); ok {
				cells[i] = s
			}
		}
		line(cells)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func hasUnits(t *Table) bool {
	for _, u := range t.Units {
		if u != "" {
			return true
		}
	}
	return false
}
