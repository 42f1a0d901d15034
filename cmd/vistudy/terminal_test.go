package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vistudy/vistudy/internal/testenv"
)

// chainStudy writes a study of n load → infer → measure chains over the colour world (52
// images and 3 broken files each), for two models, in units of 4 images, into dir.
func chainStudy(t *testing.T, w *testenv.ColourWorld, n int, output string) string {
	t.Helper()
	model := fmt.Sprintf("{path: %s, input: {size: 16, resize: 16}, labels: %s}", w.Model, w.Labels)
	var b strings.Builder
	fmt.Fprintf(&b, "name: chains\nseed: 1\noutput: %s\nexecution: {batch_size: 2, unit_size: 4}\nruntime: {threads: 1}\n", output)
	fmt.Fprintf(&b, "models: {a: %s, b: %s}\ndatasets:\n  colours: {kind: imagefolder, path: %s}\nstages:\n", model, model, w.Data)
	for i := range n {
		fmt.Fprintf(&b, "  - {id: images%02d, load: {dataset: colours}}\n  - {id: preds%02d, infer: {input: images%02d}}\n", i, i, i)
		fmt.Fprintf(&b, "  - {id: acc%02d, measure: {input: preds%02d, metric: accuracy, params: {topk: [1]}}}\n", i, i)
	}
	p := filepath.Join(w.Dir, "chains-"+filepath.Base(output)+".yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tmuxTerm is a real terminal: a tmux server of the test's own, one window of a fixed size,
// with everything the program writes to it kept raw in a file.
type tmuxTerm struct {
	t              *testing.T
	sock, dir, raw string
}

// newTmux runs command (a shell line) in a cols×rows tmux window with the environment env.
func newTmux(t *testing.T, cols, rows int, env []string, command string) *tmuxTerm {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install tmux): the terminal display is not tested")
	}
	dir := t.TempDir()
	m := &tmuxTerm{t: t, sock: filepath.Join(dir, "tmux.sock"), dir: dir, raw: filepath.Join(dir, "raw")}
	// The command waits for the pipe to the raw file, runs, then leaves its exit status; the
	// shell outlives a Ctrl-C (its trap is reset to the default in the command).
	script := fmt.Sprintf("trap true INT; while [ ! -e %[1]s/go ]; do sleep 0.05; done; env %[2]s %[3]s; echo $? > %[1]s/exit; sleep 600",
		dir, strings.Join(env, " "), command)
	m.tmux("new-session", "-d", "-s", "t", "-x", strconv.Itoa(cols), "-y", strconv.Itoa(rows), "sh", "-c", script)
	t.Cleanup(func() { exec.Command("tmux", "-S", m.sock, "kill-server").Run() })
	m.tmux("set-option", "-t", "t", "history-limit", "10000")
	m.tmux("pipe-pane", "-t", "t", "-o", "cat >> "+m.raw)
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *tmuxTerm) tmux(args ...string) string {
	m.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", m.sock}, args...)...).CombinedOutput()
	if err != nil {
		m.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// screen is what the window shows now; all adds the scrollback above it.
// Lines the terminal wrapped are joined.
func (m *tmuxTerm) screen() string { return m.tmux("capture-pane", "-t", "t", "-p", "-J") }
func (m *tmuxTerm) all() string    { return m.tmux("capture-pane", "-t", "t", "-p", "-J", "-S", "-") }

// wait returns the command's exit status once it has exited.
func (m *tmuxTerm) wait(limit time.Duration) int {
	m.t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(m.dir, "exit")); err == nil && len(b) > 0 {
			code, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				m.t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond) // the pane catches up with the last bytes
			return code
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.t.Fatalf("the command did not exit in %v; the screen:\n%s", limit, m.screen())
	return -1
}

var overallLine = regexp.MustCompile(`(?m)^([✓✗ ]) all · (\d+) stages .*?([\d,]+)/([\d,]+) img`)

// TestTerminalBars runs a study of 80 stages in a real 120×45 terminal: the display shows the
// overall bar with its ETA, fits in the window (nothing of it scrolls away, only log lines do),
// folds the stages that do not fit, and ends with the closing summary and the skipped inputs.
func TestTerminalBars(t *testing.T) {
	bin := vistudyBin(t)
	w := testenv.NewColourWorld(t)
	study := chainStudy(t, w, 40, filepath.Join(w.Dir, "run"))
	m := newTmux(t, 120, 45, []string{"TERM=xterm-256color"}, bin+" run "+study)
	var during string
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if s := m.screen(); strings.Contains(s, "ETA ") {
			during = s
			break
		}
	}
	if code := m.wait(3 * time.Minute); code != 0 {
		t.Fatalf("exit %d:\n%s", code, m.all())
	}
	if during == "" {
		t.Error("no frame with an ETA was seen while the study ran")
	} else if !overallLine.MatchString(during) || !strings.Contains(during, "stages done") && !strings.Contains(during, "waiting") {
		t.Errorf("a frame under way lacks the overall bar or the folded lines:\n%s", during)
	}
	screen, all := m.screen(), m.all()
	if n := strings.Count(strings.TrimRight(screen, "\n"), "\n") + 1; n > 45 {
		t.Errorf("the screen has %d rows", n)
	}
	if n := len(overallLine.FindAllString(all, -1)); n != 1 {
		t.Errorf("the overall bar appears %d times in the window and its scrollback, want once (a frame spilled):\n%s", n, all)
	}
	o := overallLine.FindStringSubmatch(screen)
	if o == nil || o[1] != "✓" || o[2] != "80" || o[3] != o[4] {
		t.Errorf("the last frame's overall bar is %q, want 80 stages finished:\n%s", o, screen)
	}
	for _, want := range []string{"vistudy: finished in ", "units written", "images inferred over 2 models", "inputs skipped (unreadable or invalid); why, for each: " + filepath.Join(w.Dir, "run", "errors.parquet"), "results: "} {
		if !strings.Contains(screen, want) {
			t.Errorf("the screen lacks %q:\n%s", want, screen)
		}
	}
	raw, _ := os.ReadFile(m.raw)
	if !strings.Contains(string(raw), "\x1b[") {
		t.Error("no escape code was written to the terminal")
	}
}

// TestTerminalDumb: on TERM=dumb, and without a terminal, the progress is plain log lines
// without one escape code; --no-progress drops them, --quiet leaves only the summary.
func TestTerminalDumb(t *testing.T) {
	bin := vistudyBin(t)
	w := testenv.NewColourWorld(t)
	study := chainStudy(t, w, 2, filepath.Join(w.Dir, "dumb"))
	m := newTmux(t, 120, 45, []string{"TERM=dumb"}, bin+" run "+study)
	if code := m.wait(2 * time.Minute); code != 0 {
		t.Fatalf("exit %d:\n%s", code, m.all())
	}
	raw, _ := os.ReadFile(m.raw)
	if i := strings.IndexByte(string(raw), 0x1b); i >= 0 {
		t.Errorf("an escape code on TERM=dumb at byte %d: %q", i, raw[max(0, i-40):min(len(raw), i+40)])
	}
	for _, want := range []string{`msg="stage finished" stage="infer preds00 · 2 models" images=104`, "vistudy: finished in "} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("TERM=dumb: no %q in\n%s", want, raw)
		}
	}
	cases := []struct {
		name     string
		args     []string
		want     []string
		dontWant []string
	}{
		{"not a terminal", nil, []string{`msg="stage finished"`, "vistudy: finished in ", "vistudy: warning: 6 inputs skipped"}, []string{"\x1b"}},
		{"no progress", []string{"--no-progress"}, []string{"vistudy: finished in "}, []string{"\x1b", "stage finished", "msg=progress"}},
		{"quiet", []string{"--quiet"}, []string{"vistudy: finished in ", "vistudy: warning: 6 inputs skipped"}, []string{"\x1b", "level=INFO"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := mustRun(t, bin, append([]string{"run", study, "--output", filepath.Join(w.Dir, fmt.Sprint("plain", i))}, c.args...)...)
			for _, want := range c.want {
				if !strings.Contains(out, want) {
					t.Errorf("no %q in\n%s", want, out)
				}
			}
			for _, bad := range c.dontWant {
				if strings.Contains(out, bad) {
					t.Errorf("%q in\n%s", bad, out)
				}
			}
			if c.name == "quiet" {
				for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
					if !strings.HasPrefix(l, "vistudy: ") && !strings.HasPrefix(l, "results: ") {
						t.Errorf("--quiet printed %q", l)
					}
				}
			}
		})
	}
}

// TestTerminalCtrlC presses Ctrl-C in the terminal part-way through a run: vistudy exits with
// 130, and its last frame shows the counts it reached, below the totals, as stopped.
func TestTerminalCtrlC(t *testing.T) {
	bin := vistudyBin(t)
	w := testenv.NewColourWorld(t)
	out := filepath.Join(w.Dir, "run")
	study := chainStudy(t, w, 40, out)
	m := newTmux(t, 120, 45, []string{"TERM=xterm-256color"}, bin+" run "+study)
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if units, _ := filepath.Glob(filepath.Join(out, "units", "acc*", "model=*", "u*.json")); len(units) >= 20 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(m.dir, "exit")); err == nil {
		t.Fatalf("the run ended before Ctrl-C:\n%s", m.all())
	}
	m.tmux("send-keys", "-t", "t", "C-c")
	if code := m.wait(2 * time.Minute); code != 130 {
		t.Fatalf("exit %d after Ctrl-C, want 130:\n%s", code, m.all())
	}
	screen := m.all() // the summary lines below a full frame push its top into the scrollback
	var o []string
	if all := overallLine.FindAllStringSubmatch(screen, -1); len(all) > 0 {
		o = all[len(all)-1]
	}
	if o == nil {
		t.Fatalf("no overall bar on the screen:\n%s", screen)
	}
	done, _ := strconv.Atoi(strings.ReplaceAll(o[3], ",", ""))
	total, _ := strconv.Atoi(strings.ReplaceAll(o[4], ",", ""))
	if o[1] != "✗" || done == 0 || done >= total || strings.Contains(screen, "100%  "+o[4]) {
		t.Errorf("after Ctrl-C the overall bar shows %s/%s (%q), want stopped below its total:\n%s", o[3], o[4], o[1], screen)
	}
	for _, want := range []string{"stopped", "vistudy: interrupted in ", "units written", "run interrupted (finished units are kept; run again to resume)"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the screen lacks %q:\n%s", want, screen)
		}
	}
}
