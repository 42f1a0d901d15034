package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vistudy/vistudy/pipeline"
)

// snap makes a snapshot of n stages: the first fin finished, the next run running, the rest waiting.
func snap(n, fin, run int) pipeline.Snapshot {
	s := pipeline.Snapshot{Elapsed: 90 * time.Second, Units: 100, Committed: 40}
	for i := range n {
		st := pipeline.StageState{StageTotal: pipeline.StageTotal{ID: fmt.Sprintf("stage%02d", i), Kind: "infer", Models: 4, Points: 7, Total: 1000}}
		switch {
		case i < fin:
			st.Done, st.Finished, st.Elapsed = 1000, true, 30*time.Second
		case i < fin+run:
			st.Done, st.Elapsed = 250, 60*time.Second
		}
		s.Stages = append(s.Stages, st)
	}
	return s
}

func rates(s pipeline.Snapshot, r float64) []float64 {
	out := make([]float64, len(s.Stages)+1)
	for i := range out {
		out[i] = r
	}
	return out
}

// TestRenderFits: the display never takes more rows than it has, nor more columns than the
// terminal less one; stages that do not fit fold into "done", "more running" and "waiting" lines.
func TestRenderFits(t *testing.T) {
	cases := []struct {
		name             string
		stages, fin, run int
		width, rows      int
		final            bool
		lines            int
		want, dontWant   []string
	}{
		{"all fit", 5, 2, 2, 120, 44, false, 6, []string{"all · 5 stages", "ETA ", "✓ infer stage00 · 4 models × 7 points", "▸ infer stage02", "· infer stage04", "1,000/1,000 img", "250/1,000 img", "waiting"}, []string{"stages done"}},
		{"done folded", 48, 20, 20, 120, 44, false, 30, []string{"✓ 20 stages done", "▸ infer stage20", "· infer stage47"}, []string{"infer stage00 ", "more running", "stages waiting"}},
		{"waiting folded", 60, 20, 20, 120, 30, false, 23, []string{"✓ 20 stages done", "▸ infer stage39", "· 20 stages waiting: stage40, stage41"}, []string{"infer stage00 ", "more running", "infer stage40"}},
		{"running folded", 48, 20, 28, 120, 12, false, 12, []string{"✓ 20 stages done", "▸ infer stage20", "▸ 19 more running: stage29, "}, []string{"waiting"}},
		{"one row left", 48, 20, 20, 120, 2, false, 2, []string{"all · 48 stages", "20 running · 20 done · 8 waiting"}, nil},
		{"overall only", 48, 20, 20, 120, 1, false, 1, []string{"all · 48 stages"}, []string{"running"}},
		{"narrow", 5, 2, 2, 50, 44, false, 6, []string{"all · 5 stages", "stage02"}, nil},
		{"very narrow", 5, 2, 2, 20, 44, false, 6, []string{"all"}, nil},
		{"interrupted", 5, 2, 2, 120, 44, true, 6, []string{"✗ all · 5 stages", "✗ infer stage02", "250/1,000 img", "stopped", "2,500/5,000 img"}, []string{"ETA", "100%  5,000"}},
		{"finished", 3, 3, 0, 120, 44, false, 4, []string{"✓ all · 3 stages", "100%  3,000/3,000 img"}, []string{"ETA", "waiting"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := snap(c.stages, c.fin, c.run)
			for _, color := range []bool{false, true} {
				lines := render(s, rates(s, 50), layout{width: c.width, rows: c.rows, color: color, final: c.final})
				if len(lines) != c.lines {
					t.Errorf("color %v: %d lines, want %d:\n%s", color, len(lines), c.lines, strings.Join(lines, "\n"))
				}
				plain := sgr.ReplaceAllString(strings.Join(lines, "\n"), "")
				if !color && plain != strings.Join(lines, "\n") {
					t.Errorf("escape codes without colour:\n%q", lines)
				}
				for _, l := range strings.Split(plain, "\n") {
					if n := utf8.RuneCountInString(l); n > c.width-1 {
						t.Errorf("color %v: a line of %d columns in %d: %q", color, n, c.width, l)
					}
				}
				for _, w := range c.want {
					if c.width >= 50 && !strings.Contains(plain, w) {
						t.Errorf("color %v: no %q in\n%s", color, w, plain)
					}
				}
				for _, w := range c.dontWant {
					if strings.Contains(plain, w) {
						t.Errorf("color %v: %q in\n%s", color, w, plain)
					}
				}
			}
		})
	}
}

func TestClockAndETA(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{0, "0:00"}, {1499 * time.Millisecond, "0:01"}, {59 * time.Second, "0:59"}, {61 * time.Second, "1:01"},
		{3599 * time.Second, "59:59"}, {3600 * time.Second, "1:00:00"}, {99*time.Hour + 59*time.Minute, "99:59:00"},
		{100 * time.Hour, "4d04h"}, {-time.Second, "–"},
	}
	for _, c := range cases {
		if got := clock(c.d); got != c.want {
			t.Errorf("clock(%v) = %q, want %q", c.d, got, c.want)
		}
	}
	etas := []struct {
		left int64
		rate float64
		want string
	}{{0, 10, ""}, {-5, 10, ""}, {100, 0, "ETA –"}, {100, 10, "ETA 0:10"}, {7200, 1, "ETA 2:00:00"}}
	for _, c := range etas {
		if got := eta(c.left, c.rate); got != c.want {
			t.Errorf("eta(%d, %v) = %q, want %q", c.left, c.rate, got, c.want)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 124880: "124,880", 1234567: "1,234,567", -1200: "-1,200"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestMeter: the rate follows the last window of samples.
func TestMeter(t *testing.T) {
	var m meter
	if r := m.observe(0, 0); r != 0 {
		t.Errorf("one sample: rate %v", r)
	}
	for i := 1; i <= 20; i++ {
		m.observe(time.Duration(i)*time.Second, int64(i*10))
	}
	if r := m.observe(21*time.Second, 210); r < 9.99 || r > 10.01 {
		t.Errorf("steady 10/s: rate %v", r)
	}
	for i := 22; i <= 40; i++ { // stalled
		m.observe(time.Duration(i)*time.Second, 210)
	}
	if r := m.observe(41*time.Second, 210); r != 0 {
		t.Errorf("stalled for 20 s: rate %v, want 0", r)
	}
	if len(m.at) > 17 {
		t.Errorf("the meter keeps %d samples of a 15 s window at 1/s", len(m.at))
	}
	long := meter{window: time.Minute}
	for i := 0; i <= 120; i++ { // 10/s for a minute, then stalled for a minute
		n := int64(min(i, 60) * 10)
		if r := long.observe(time.Duration(i)*time.Second, n); i == 90 && (r < 4.99 || r > 5.01) {
			t.Errorf("a minute's window, half of it stalled: rate %v, want 5", r)
		}
	}
}

// TestLineWriter: without a terminal the progress is a line every period, one per finished
// stage, and a last line when the run stops unfinished; none repeats.
func TestLineWriter(t *testing.T) {
	var buf bytes.Buffer
	w := lineWriter{every: 10 * time.Second, log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))}
	s := snap(3, 0, 2)
	steps := []struct {
		at    time.Duration
		fin   int
		final bool
		want  []string
	}{
		{2 * time.Second, 0, false, nil},
		{10 * time.Second, 0, false, []string{`level=INFO msg=progress done=16% images=500/3000 img_per_s=50.0 elapsed=0:10 eta=0:50 running="stage00 25%, stage01 25%"`}},
		{12 * time.Second, 1, false, []string{`level=INFO msg="stage finished" stage="infer stage00 · 4 models × 7 points" images=1000 seconds=30.0`}},
		{15 * time.Second, 1, false, nil},
		{21 * time.Second, 1, true, []string{`level=INFO msg=stopped done=41% images=1250/3000 img_per_s=50.0 elapsed=0:21 running="stage01 25%"`}},
	}
	for _, st := range steps {
		buf.Reset()
		s.Elapsed = st.at
		for i := range st.fin {
			s.Stages[i].Done, s.Stages[i].Finished = 1000, true
			s.Stages[i].Elapsed = 30 * time.Second
		}
		w.tick(s, 50, st.final)
		got := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if buf.Len() == 0 {
			got = nil
		}
		if strings.Join(got, "\n") != strings.Join(st.want, "\n") {
			t.Errorf("at %v:\n%s\nwant\n%s", st.at, strings.Join(got, "\n"), strings.Join(st.want, "\n"))
		}
	}
}

func TestSummary(t *testing.T) {
	done := pipeline.Snapshot{Elapsed: 47200 * time.Millisecond, Units: 456, Resumed: 56, Committed: 400, Stages: []pipeline.StageState{
		{StageTotal: pipeline.StageTotal{ID: "images", Kind: "load", Total: 400}, Done: 400, Finished: true},
		{StageTotal: pipeline.StageTotal{ID: "preds", Kind: "infer", Models: 4, Total: 1600}, Done: 1588, Finished: true},
		{StageTotal: pipeline.StageTotal{ID: "criticality", Kind: "criticality", Models: 4, Units: true, Total: 20}, Done: 20, Finished: true},
	}}
	stopped := done
	stopped.Stages = []pipeline.StageState{done.Stages[0], done.Stages[1]}
	stopped.Stages[1].Done, stopped.Stages[1].Finished, stopped.Committed, stopped.Skipped = 800, false, 100, 2
	cases := []struct {
		name    string
		s       pipeline.Snapshot
		total   time.Duration
		outcome string
		skipped int64
		want    []string
	}{
		{"finished", done, 51 * time.Second, "finished", 3, []string{
			"finished in 0:51 (51.0 s, 3.8 s of it writing the results); 400 of 400 units written (56 resumed from an earlier run)",
			"1,588 images inferred over 4 models (33.6 images/s); 1,988 image passes in 3 stages (42.1/s)",
			"warning: 3 inputs skipped (unreadable or invalid); why, for each: runs/x/errors.parquet"}},
		{"nothing skipped", done, 47500 * time.Millisecond, "finished", 0, []string{
			"finished in 0:47 (47.5 s); 400 of 400 units written (56 resumed from an earlier run)",
			"1,588 images inferred over 4 models (33.6 images/s); 1,988 image passes in 3 stages (42.1/s)"}},
		{"nothing to do", pipeline.Snapshot{Units: 477, Resumed: 477, Elapsed: 200 * time.Millisecond}, 1500 * time.Millisecond, "finished", 0, []string{
			"finished in 0:01 (1.5 s, 1.3 s of it writing the results): nothing left to run, all 477 units were written by an earlier run"}},
		{"interrupted", stopped, 47200 * time.Millisecond, "interrupted", -1, []string{
			"interrupted in 0:47 (47.2 s); 100 of 400 units written (56 resumed from an earlier run)",
			"800 of 1,600 images inferred (16.9 images/s); 1,200 of 2,000 image passes in 2 stages",
			"warning: 2 inputs skipped (unreadable or invalid); why, for each: runs/x/errors.parquet"}},
	}
	for _, c := range cases {
		got := summary(c.s, c.total, c.outcome, c.skipped, "runs/x/errors.parquet")
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s:\n%s\nwant\n%s", c.name, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
	}
}

func TestChooseMode(t *testing.T) {
	cases := []struct {
		terminal   bool
		term       string
		noProgress bool
		want       progressMode
	}{
		{true, "xterm-256color", false, modeBars},
		{true, "dumb", false, modeLines},
		{true, "", false, modeLines},
		{false, "xterm-256color", false, modeLines},
		{true, "xterm-256color", true, modeNone},
		{false, "dumb", true, modeNone},
	}
	for _, c := range cases {
		if got := chooseMode(c.terminal, c.term, c.noProgress); got != c.want {
			t.Errorf("chooseMode(%v, %q, %v) = %v, want %v", c.terminal, c.term, c.noProgress, got, c.want)
		}
	}
}

// TestRowsAt: a frame's lines take a row each, or more once a narrowed terminal wraps them.
func TestRowsAt(t *testing.T) {
	lines := []string{"\x1b[36m▸\x1b[0m " + strings.Repeat("x", 98), strings.Repeat("y", 40), ""}
	cases := []struct {
		w     int
		known bool
		want  int
	}{{120, true, 3}, {100, true, 3}, {60, true, 4}, {30, true, 7}, {30, false, 3}, {0, true, 3}}
	for _, c := range cases {
		if got := rowsAt(lines, c.w, c.known); got != c.want {
			t.Errorf("rowsAt(width %d, known %v) = %d, want %d", c.w, c.known, got, c.want)
		}
	}
}

// TestDisplayWrite: a log line is written over the frame's first row, each row cleared to its
// end, and the frame is drawn again below it; the screen is never cleared from the frame's top.
func TestDisplayWrite(t *testing.T) {
	var buf bytes.Buffer
	d := &display{mode: modeBars, out: &buf, fd: -1, frame: []string{"a", "b", "c"}}
	if _, err := d.Write([]byte("time=x level=WARN msg=late\n")); err != nil {
		t.Fatal(err)
	}
	want := "\r\x1b[3Atime=x level=WARN msg=late\x1b[K\na\x1b[K\nb\x1b[K\nc\x1b[K\n\x1b[J"
	if got := buf.String(); got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
	buf.Reset()
	d.frame = nil // after Wait: lines go below the last frame as they are
	d.Write([]byte("after\n"))
	if got := buf.String(); got != "after\n" {
		t.Errorf("after the run: wrote %q", got)
	}
}
