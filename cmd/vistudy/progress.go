package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/term"

	"github.com/vistudy/vistudy/arrowio/pqfile"
	"github.com/vistudy/vistudy/pipeline"
)

// progressMode is how `vistudy run` shows its progress.
type progressMode int

const (
	modeBars  progressMode = iota // bars redrawn in place, fitted to the terminal
	modeLines                     // a plain log line every so often (not a terminal, TERM=dumb)
	modeNone                      // nothing but the closing summary (--no-progress, --quiet)
)

// chooseMode picks the display: bars only on a terminal that can move its cursor.
func chooseMode(terminal bool, termEnv string, noProgress bool) progressMode {
	switch {
	case noProgress:
		return modeNone
	case !terminal || termEnv == "" || termEnv == "dumb":
		return modeLines
	}
	return modeBars
}

// display is the pipeline's Progress for the command: it draws bars (modeBars), logs lines
// (modeLines) or only keeps the counts for the closing summary (modeNone).
type display struct {
	mode  progressMode
	out   io.Writer
	fd    int // terminal of out, for its size
	color bool
	every time.Duration // modeLines: the period of the progress line
	log   *slog.Logger  // modeLines

	mu      sync.Mutex
	t       *pipeline.Tracker
	started time.Time // when the tracker started counting
	last    pipeline.Snapshot
	frame   []string // modeBars: the rows on screen
	meters  []meter  // per stage, then the whole run
	lines   lineWriter
	stop    chan struct{}
	stopped chan struct{}
}

// newDisplay makes the display of `vistudy run` writing to f (stderr).
func newDisplay(f *os.File, noProgress bool) *display {
	mode := chooseMode(term.IsTerminal(int(f.Fd())), os.Getenv("TERM"), noProgress)
	_, noColor := os.LookupEnv("NO_COLOR")
	return &display{mode: mode, out: f, fd: int(f.Fd()), color: !noColor, every: 10 * time.Second}
}

// Start begins drawing (or logging) the run t counts.
func (d *display) Start(t *pipeline.Tracker) {
	d.mu.Lock()
	d.t, d.last, d.started = t, t.Snapshot(), time.Now().Add(-t.Snapshot().Elapsed)
	d.meters = make([]meter, len(d.last.Stages)+1)
	// The whole run's ETA looks back a minute: its stages take turns, so its pace comes in waves.
	d.meters[len(d.last.Stages)].window = time.Minute
	d.lines = lineWriter{every: d.every, log: d.log}
	d.stop, d.stopped = make(chan struct{}), make(chan struct{})
	d.mu.Unlock()
	if d.mode == modeNone {
		close(d.stopped)
		return
	}
	period := 150 * time.Millisecond
	if d.mode == modeLines {
		period = time.Second
	}
	go func() {
		defer close(d.stopped)
		tick := time.NewTicker(period)
		defer tick.Stop()
		d.update(false)
		for {
			select {
			case <-d.stop:
				return
			case <-tick.C:
				d.update(false)
			}
		}
	}()
}

// Wait draws the final counts and stops; stages not finished stay where they stopped.
func (d *display) Wait() {
	if d.stop == nil {
		return
	}
	close(d.stop)
	<-d.stopped
	d.update(true)
	d.mu.Lock()
	d.frame = nil // the last frame stays on screen; what is written next goes below it
	d.mu.Unlock()
}

// update takes a snapshot and redraws (or logs).
func (d *display) update(final bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.t.Snapshot()
	d.last = s
	rates := make([]float64, len(d.meters))
	var all int64
	for i, st := range s.Stages {
		rates[i] = d.meters[i].observe(s.Elapsed, st.Done)
		if !st.Units {
			all += st.Done
		}
	}
	rates[len(s.Stages)] = d.meters[len(s.Stages)].observe(s.Elapsed, all)
	switch d.mode {
	case modeBars:
		w, h, err := term.GetSize(d.fd)
		if err != nil || w <= 0 || h <= 0 {
			w, h = 80, 24
		}
		d.redraw(render(s, rates, layout{width: w, rows: h - 1, color: d.color, final: final}))
	case modeLines:
		d.lines.tick(s, rates[len(s.Stages)], final)
	}
}

// redraw replaces the rows on screen by next (the caller holds mu).
func (d *display) redraw(next []string) {
	var b strings.Builder
	if n := d.frameRows(); n > 0 {
		fmt.Fprintf(&b, "\r\x1b[%dA", n)
	}
	for _, l := range next {
		b.WriteString(l)
		b.WriteString("\x1b[K\n")
	}
	b.WriteString("\x1b[J")
	io.WriteString(d.out, b.String())
	d.frame = next
}

// Write prints log lines above the bars.
func (d *display) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mode != modeBars || len(d.frame) == 0 {
		return d.out.Write(p)
	}
	// Over the frame's rows, each line cleared to its end: a terminal such as tmux moves the
	// whole screen into the scrollback when it is cleared from the top left corner.
	frame := d.frame
	var b strings.Builder
	fmt.Fprintf(&b, "\r\x1b[%dA", d.frameRows())
	b.WriteString(strings.ReplaceAll(string(p), "\n", "\x1b[K\n"))
	io.WriteString(d.out, b.String())
	d.frame = nil
	d.redraw(frame)
	return len(p), nil
}

// frameRows is how many rows the frame on screen takes: one a line, unless the terminal has
// since been narrowed and has wrapped its lines (as most terminals do when they reflow).
func (d *display) frameRows() int {
	w, _, err := term.GetSize(d.fd)
	return rowsAt(d.frame, w, err == nil)
}

// rowsAt counts the rows lines take at width w (known: whether w could be read).
func rowsAt(lines []string, w int, known bool) int {
	n := 0
	for _, l := range lines {
		c := utf8.RuneCountInString(sgr.ReplaceAllString(l, ""))
		if !known || w <= 0 || c <= w {
			n++
			continue
		}
		n += (c + w - 1) / w
	}
	return n
}

// sgr matches the colour sequences of a line, which take no columns.
var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

// final returns the counts at the end of the run; false when the run never started.
func (d *display) final() (pipeline.Snapshot, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last, d.t != nil
}

// meter estimates a rate over the last window of samples.
type meter struct {
	window time.Duration // rateWindow when zero
	at     []time.Duration
	n      []int64
}

// rateWindow is how far back a rate looks by default: long enough to smooth batches, short
// enough to follow a change of pace.
const rateWindow = 15 * time.Second

// observe records count n at time at and returns the rate per second over the window (0 until
// there are two samples a tenth of a second apart).
func (m *meter) observe(at time.Duration, n int64) float64 {
	m.at, m.n = append(m.at, at), append(m.n, n)
	window := cmp.Or(m.window, rateWindow)
	i := 0
	for i < len(m.at)-2 && at-m.at[i+1] >= window {
		i++
	}
	m.at, m.n = m.at[i:], m.n[i:]
	dt := (at - m.at[0]).Seconds()
	if dt < 0.1 {
		return 0
	}
	return float64(n-m.n[0]) / dt
}

// layout is the room the bars have.
type layout struct {
	width, rows int  // columns, and rows that may be drawn (the terminal's less one for the cursor)
	color       bool // SGR colours
	final       bool // the run's work has ended: what is not finished has stopped
}

// row is one line of the display before it is laid out in columns.
type row struct {
	mark, label    string
	done, total    int64
	rate           float64
	elapsed        time.Duration
	eta            string
	unit           string // "img" or "units"
	style          string // running, finished, stopped, waiting, all
	plain          bool   // a collapsed line: label only
	bold, percents bool
}

// stageLabel is a stage as the display names it: "infer preds · 4 models × 7 points".
func stageLabel(st pipeline.StageState) string {
	var parts []string
	if st.Models > 0 {
		parts = append(parts, plural(st.Models, "model"))
	} else if st.Geometries > 1 {
		parts = append(parts, plural(st.Geometries, "image size"))
	}
	if st.Points > 1 {
		parts = append(parts, plural(st.Points, "point"))
	}
	if st.Models == 0 && st.Waves > 1 {
		parts = append(parts, plural(st.Waves, "wave")) // it runs again for each wave of models
	}
	l := st.Kind + " " + st.ID
	if st.Kind == st.ID {
		l = st.ID
	}
	if len(parts) > 0 {
		l += " · " + strings.Join(parts, " × ")
	}
	return l
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// complete reports whether a stage has processed all it had to (its wave may still run).
func complete(st pipeline.StageState) bool {
	return st.Finished || st.Total > 0 && st.Done >= st.Total
}

// stageRate is the stage's average rate since its first image: stages advance in bursts, as
// the units stream through them, so a recent window would swing.
func stageRate(st pipeline.StageState, recent float64) float64 {
	if st.Elapsed < 3*time.Second {
		return recent
	}
	return float64(st.Done) / st.Elapsed.Seconds()
}

// overall sums the image stages: done, and the total (a finished stage's total is what it did).
func overall(s pipeline.Snapshot) (done, total int64, finished bool) {
	finished = true
	for _, st := range s.Stages {
		if st.Units {
			continue
		}
		done += st.Done
		if st.Finished {
			total += st.Done
		} else {
			total += st.Total
			finished = false
		}
	}
	return done, total, finished
}

// eta is the time left at rate, "" when it cannot be told.
func eta(left int64, rate float64) string {
	if left <= 0 {
		return ""
	}
	if rate <= 0 {
		return "ETA –"
	}
	return "ETA " + clock(time.Duration(float64(left)/rate*float64(time.Second)))
}

// clock formats a duration as m:ss, h:mm:ss, or days and hours.
func clock(d time.Duration) string {
	s := int64(d / time.Second) // whole seconds gone: 47.5 s is 0:47
	switch {
	case s < 0:
		return "–"
	case s < 3600:
		return fmt.Sprintf("%d:%02d", s/60, s%60)
	case s < 100*3600:
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s/3600%24)
}

// thousands writes n with thin separators: 124,880.
func thousands(n int64) string {
	if n < 0 {
		return "-" + thousands(-n)
	}
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// render lays the snapshot out in at most l.rows lines of at most l.width-1 columns: the whole
// run on top, then a row per stage; when the stages do not fit, the finished ones fold into one
// line, then the waiting ones, then the running ones past what fits.
func render(s pipeline.Snapshot, rates []float64, l layout) []string {
	if l.rows < 1 {
		return nil
	}
	done, total, finished := overall(s)
	all := row{mark: " ", label: "all · " + plural(len(s.Stages), "stage"), done: done, total: total,
		rate: rates[len(s.Stages)], elapsed: s.Elapsed, unit: "img", style: "all", bold: true, percents: true}
	switch {
	case finished:
		all.mark, all.style = "✓", "finished"
	case l.final:
		all.mark, all.style, all.eta = "✗", "stopped", "stopped"
	default:
		all.eta = eta(total-done, all.rate)
	}
	var fin, run, wait []int
	rows := make([]row, len(s.Stages))
	for i, st := range s.Stages {
		unit := "img"
		if st.Units {
			unit = "units"
		}
		r := row{label: stageLabel(st), done: st.Done, total: st.Total, rate: stageRate(st, rates[i]), elapsed: st.Elapsed, unit: unit, percents: true}
		switch {
		case complete(st):
			r.mark, r.style, r.total = "✓", "finished", st.Done
			fin = append(fin, i)
		case l.final:
			r.mark, r.style, r.eta = "✗", "stopped", "stopped"
			if st.Done == 0 {
				r.eta = "not started"
			}
			run = append(run, i)
		case st.Done == 0:
			r.mark, r.style, r.eta = "·", "waiting", "waiting"
			wait = append(wait, i)
		default:
			r.mark, r.style, r.eta = "▸", "running", eta(st.Total-st.Done, r.rate)
			run = append(run, i)
		}
		rows[i] = r
	}
	budget := l.rows - 1
	var out []row
	switch {
	case len(s.Stages) <= budget:
		out = rows
	default:
		foldFin, foldWait := len(fin) > 0, false
		shown := budget - btoi(foldFin)
		if len(run)+len(wait) > shown && len(wait) > 0 {
			foldWait = true
			shown--
		}
		more := 0
		if len(run) > shown {
			more = len(run) - max(shown-1, 0)
			shown = max(shown-1, 0)
		}
		if foldFin {
			out = append(out, row{mark: "✓", label: plural(len(fin), "stage") + " done", style: "finished", plain: true})
		}
		keep := map[int]bool{}
		for _, i := range run[:min(shown, len(run))] {
			keep[i] = true
		}
		if !foldWait {
			for _, i := range wait {
				keep[i] = true
			}
		}
		for i := range rows {
			if keep[i] {
				out = append(out, rows[i])
			}
		}
		if more > 0 {
			r := row{mark: "▸", label: fmt.Sprintf("%d more running: %s", more, names(s, run[len(run)-more:])), style: "running", plain: true}
			if l.final {
				r.mark, r.label, r.style = "✗", fmt.Sprintf("%d more stopped: %s", more, names(s, run[len(run)-more:])), "stopped"
			}
			out = append(out, r)
		}
		if foldWait {
			out = append(out, row{mark: "·", label: fmt.Sprintf("%s waiting: %s", plural(len(wait), "stage"), names(s, wait)), style: "waiting", plain: true})
		}
		if len(out) > budget { // too few rows even for the folded lines: one line says it all
			out = []row{{mark: "▸", label: fmt.Sprintf("%d running · %d done · %d waiting", len(run), len(fin), len(wait)), style: "running", plain: true}}
			if budget == 0 {
				out = nil
			}
		}
	}
	return formatRows(append([]row{all}, out...), l)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// names lists stage ids.
func names(s pipeline.Snapshot, idx []int) string {
	ids := make([]string, len(idx))
	for i, j := range idx {
		ids[i] = s.Stages[j].ID
	}
	return strings.Join(ids, ", ")
}

// Colours (SGR) of the display.
const (
	sgrReset = "\x1b[0m"
	sgrBold  = "\x1b[1m"
	sgrDim   = "\x1b[90m"
	sgrTrack = "\x1b[38;5;238m" // a dark grey, for the part of a bar still to do
)

var styleColour = map[string]string{"running": "\x1b[36m", "finished": "\x1b[32m", "stopped": "\x1b[33m", "waiting": sgrDim, "all": "\x1b[36m"}

// formatRows aligns the rows in columns that fit l.width-1: mark, label, bar, percent, count,
// rate, elapsed, ETA; the bar shrinks first, then the rate and elapsed columns go.
func formatRows(rows []row, l layout) []string {
	width := l.width - 1
	labelW, countW, rateW, etaW := 0, 0, 0, 0
	for _, r := range rows {
		if r.plain {
			continue
		}
		labelW = max(labelW, utf8.RuneCountInString(r.label))
		countW = max(countW, len(countText(r)))
		rateW = max(rateW, len(rateText(r)))
		etaW = max(etaW, utf8.RuneCountInString(r.eta))
	}
	labelW = min(labelW, max(12, width*2/5))
	const pctW, timeW = 4, 7
	showRate, showTime, showCount := true, true, true
	fixed := func() int {
		n := 2 + labelW + 2 + pctW + 2 + etaW
		if showCount {
			n += countW + 2
		}
		if showRate {
			n += rateW + 2
		}
		if showTime {
			n += timeW + 1
		}
		return n
	}
	// What goes first when the line is too narrow: the rate, the elapsed time, the bar, the count.
	barW := min(40, width-fixed()-2)
	for _, drop := range []*bool{&showRate, &showTime, nil, &showCount} {
		if barW >= 8 {
			break
		}
		if drop != nil {
			*drop = false
		}
		barW = min(40, width-fixed()-2)
	}
	if barW < 8 {
		barW = 0
		labelW = max(8, min(labelW, width-fixed()))
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		col, reset := "", ""
		if l.color {
			col, reset = styleColour[r.style], sgrReset
		}
		var b strings.Builder
		b.WriteString(col + r.mark + reset + " ")
		if r.plain {
			b.WriteString(truncate(r.label, width-2))
			out[i] = b.String()
			continue
		}
		label := pad(truncate(r.label, labelW), labelW)
		if r.bold && l.color {
			label = sgrBold + label + sgrReset
		}
		b.WriteString(label + "  ")
		if barW > 0 {
			b.WriteString(bar(r, barW, l.color) + " ")
		}
		fmt.Fprintf(&b, " %*s", pctW, pctText(r))
		if showCount {
			fmt.Fprintf(&b, "  %*s", countW, countText(r))
		}
		if showRate {
			fmt.Fprintf(&b, "  %*s", rateW, rateText(r))
		}
		if showTime {
			fmt.Fprintf(&b, "  %*s", timeW-2, clockOrBlank(r))
		}
		e := r.eta
		if l.color && (r.style == "stopped" || r.style == "waiting") && e != "" {
			e = col + e + reset
		}
		b.WriteString("  " + e)
		out[i] = strings.TrimRight(b.String(), " ")
	}
	for i := range out {
		out[i] = clip(out[i], width, l.color)
	}
	return out
}

// clip cuts a line to w visible columns; SGR sequences take none.
func clip(s string, w int, color bool) string {
	n := 0
	for i := 0; i < len(s); {
		if s[i] == '\x1b' {
			j := strings.IndexByte(s[i:], 'm')
			if j < 0 {
				return s[:i]
			}
			i += j + 1
			continue
		}
		if n == w {
			if color {
				return s[:i] + sgrReset
			}
			return s[:i]
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	return s
}

func clockOrBlank(r row) string {
	if r.elapsed <= 0 {
		return ""
	}
	return clock(r.elapsed)
}

func pctText(r row) string {
	if r.total <= 0 {
		return ""
	}
	return strconv.FormatInt(min(100, r.done*100/r.total), 10) + "%"
}

func countText(r row) string {
	return thousands(r.done) + "/" + thousands(r.total) + " " + r.unit
}

func rateText(r row) string {
	if r.done == 0 {
		return ""
	}
	if r.rate <= 0 || r.style == "finished" || r.style == "stopped" {
		if (r.style == "finished" || r.style == "stopped") && r.elapsed > 0 {
			return fmt.Sprintf("%s %s/s", rateNumber(float64(r.done)/r.elapsed.Seconds()), r.unit)
		}
		return ""
	}
	return fmt.Sprintf("%s %s/s", rateNumber(r.rate), r.unit)
}

// rateNumber keeps three significant figures, without a decimal point above 100.
func rateNumber(x float64) string {
	switch {
	case x >= 100:
		return thousands(int64(x + 0.5))
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

// bar draws done/total in w cells.
func bar(r row, w int, color bool) string {
	fill := 0
	if r.total > 0 {
		fill = int(min(int64(w), r.done*int64(w)/r.total))
	}
	if !color {
		return strings.Repeat("█", fill) + strings.Repeat("░", w-fill)
	}
	// Seven-eighths blocks leave a gap between the rows; the track is the same block, dimmed.
	return styleColour[r.style] + strings.Repeat("▇", fill) + sgrTrack + strings.Repeat("▇", w-fill) + sgrReset
}

// truncate cuts s to w runes, with an ellipsis.
func truncate(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= w {
		return s
	}
	r := []rune(s)
	return string(r[:w-1]) + "…"
}

func pad(s string, w int) string {
	return s + strings.Repeat(" ", max(0, w-utf8.RuneCountInString(s)))
}

// lineWriter logs the progress as plain lines: the whole run every so often, and each stage
// when it finishes.
type lineWriter struct {
	every    time.Duration
	log      *slog.Logger
	lastLine time.Duration
	finished map[string]bool
}

// tick logs what changed since the last tick of snapshot s (rate: images per second of the run).
func (w *lineWriter) tick(s pipeline.Snapshot, rate float64, final bool) {
	log := w.log
	if log == nil {
		log = slog.Default()
	}
	if w.finished == nil {
		w.finished = map[string]bool{}
	}
	for _, st := range s.Stages {
		if complete(st) && !w.finished[st.ID] {
			w.finished[st.ID] = true
			unit := "images"
			if st.Units {
				unit = "units"
			}
			log.Info("stage finished", "stage", stageLabel(st), unit, st.Done, "seconds", fmt.Sprintf("%.1f", st.Elapsed.Seconds()))
		}
	}
	if !final && s.Elapsed-w.lastLine < w.every {
		return
	}
	w.lastLine = s.Elapsed
	done, total, finished := overall(s)
	if final && finished {
		return // the closing summary says it
	}
	pct := int64(100)
	if total > 0 {
		pct = done * 100 / total
	}
	var running []string
	for _, st := range s.Stages {
		if !complete(st) && st.Done > 0 {
			running = append(running, fmt.Sprintf("%s %d%%", st.ID, st.Done*100/st.Total))
		}
	}
	if len(running) > 6 {
		running = append(running[:6], fmt.Sprintf("+%d more", len(running)-6))
	}
	msg, left := "progress", eta(total-done, rate)
	if final {
		msg, left = "stopped", ""
	}
	args := []any{"done", fmt.Sprintf("%d%%", pct), "images", fmt.Sprintf("%d/%d", done, total),
		"img_per_s", rateNumber(rate), "elapsed", clock(s.Elapsed)}
	if left != "" {
		args = append(args, "eta", strings.TrimPrefix(left, "ETA "))
	}
	if len(running) > 0 {
		args = append(args, "running", strings.Join(running, ", "))
	}
	log.Info(msg, args...)
}

// summary is the closing lines of a run: wall time (total: with the results and report written
// after the work), throughput, units, and the inputs skipped (skipped: -1 to take the snapshot's
// count; errorsPath: where the reasons are).
func summary(s pipeline.Snapshot, total time.Duration, outcome string, skipped int64, errorsPath string) []string {
	wall := s.Elapsed.Seconds()
	var inferred, inferTotal, passes int64
	models := 0
	for _, st := range s.Stages {
		if st.Units {
			continue
		}
		passes += st.Done
		if st.Kind == "infer" {
			inferred += st.Done
			inferTotal += st.Total
			models = max(models, st.Models)
		}
	}
	_, all, _ := overall(s)
	perSec := func(n int64) string { return rateNumber(float64(n) / max(wall, 1e-3)) }
	units := fmt.Sprintf("%s of %s units written", thousands(int64(s.Committed)), thousands(int64(s.Units-s.Resumed)))
	if s.Resumed > 0 {
		units += fmt.Sprintf(" (%s resumed from an earlier run)", thousands(int64(s.Resumed)))
	}
	var work string
	switch {
	case outcome == "finished" && inferred > 0:
		work = fmt.Sprintf("%s images inferred over %s (%s images/s); %s image passes in %s (%s/s)",
			thousands(inferred), plural(models, "model"), perSec(inferred), thousands(passes), plural(len(s.Stages), "stage"), perSec(passes))
	case inferred > 0:
		work = fmt.Sprintf("%s of %s images inferred (%s images/s); %s of %s image passes in %s",
			thousands(inferred), thousands(inferTotal), perSec(inferred), thousands(passes), thousands(all), plural(len(s.Stages), "stage"))
	case outcome == "finished":
		work = fmt.Sprintf("%s image passes in %s (%s images/s)", thousands(passes), plural(len(s.Stages), "stage"), perSec(passes))
	default:
		work = fmt.Sprintf("%s of %s image passes in %s (%s images/s)", thousands(passes), thousands(all), plural(len(s.Stages), "stage"), perSec(passes))
	}
	took := fmt.Sprintf("%.1f s", total.Seconds())
	if after := total - s.Elapsed; after >= time.Second {
		took += fmt.Sprintf(", %.1f s of it writing the results", after.Seconds())
	}
	out := []string{fmt.Sprintf("%s in %s (%s); %s", outcome, clock(total), took, units), work}
	if len(s.Stages) == 0 && s.Committed == 0 {
		out = []string{fmt.Sprintf("%s in %s (%s): nothing left to run, all %s units were written by an earlier run",
			outcome, clock(total), took, thousands(int64(s.Resumed)))}
	}
	if skipped < 0 {
		skipped = s.Skipped
	}
	if skipped > 0 {
		out = append(out, fmt.Sprintf("warning: %s skipped (unreadable or invalid); why, for each: %s", plural(int(skipped), "input"), errorsPath))
	}
	return out
}

// takeLogs sends the log through the display while it draws bars (so that lines print above
// them), at the level asked (at least warn when quiet); restore puts the previous logger back.
func (d *display) takeLogs(level string, quiet bool) (restore func(), err error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: %w", level, err)}
	}
	if quiet {
		l = max(l, slog.LevelWarn)
	}
	prev := slog.Default()
	var w io.Writer = d.out
	if d.mode == modeBars {
		w = d
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})))
	return func() { slog.SetDefault(prev) }, nil
}

// closingSummary prints the summary lines of a run that started (err: how it ended).
func closingSummary(w io.Writer, d *display, output string, shard pipeline.Shard, err error) {
	s, ok := d.final()
	if !ok {
		return
	}
	errorsPath := filepath.Join(output, pipeline.ErrorsFile)
	outcome, skipped := "finished", int64(-1)
	switch {
	case errors.Is(err, context.Canceled):
		outcome, errorsPath = "interrupted", errorsPath+" (written when the run completes)"
	case err != nil:
		outcome, errorsPath = "failed", errorsPath+" (written when the run completes)"
	case !shard.Whole():
		outcome, errorsPath = "shard "+shard.String()+" finished", errorsPath+" (written by vistudy merge)"
	default:
		if rows, err := pqfile.ReadErrors(errorsPath, memory.DefaultAllocator); err == nil {
			skipped = int64(len(rows)) // every input skipped, resumed units' too
		}
	}
	for _, l := range summary(s, time.Since(d.started), outcome, skipped, errorsPath) {
		fmt.Fprintln(w, "vistudy: "+l)
	}
}
