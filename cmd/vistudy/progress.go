package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/vistudy/vistudy/pipeline"
)

// newProgress draws mpb bars on a terminal and writes plain log lines otherwise.
func newProgress(w io.Writer) pipeline.Progress {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &barProgress{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(200*time.Millisecond))}
	}
	return &logProgress{every: 10 * time.Second}
}

// barProgress is mpb bars with images/s.
type barProgress struct{ p *mpb.Progress }

func (b *barProgress) Bar(name string, total int64) pipeline.Bar {
	bar := b.p.AddBar(total,
		mpb.PrependDecorators(decor.Name(name, decor.WC{C: decor.DindentRight | decor.DextraSpace}), decor.CountersNoUnit("%d/%d")),
		mpb.AppendDecorators(decor.EwmaSpeed(0, "%.1f img/s", 30), decor.Name(" "), decor.Percentage()))
	return &mpbBar{bar: bar, last: time.Now()}
}

func (b *barProgress) Wait() { b.p.Wait() }

type mpbBar struct {
	mu   sync.Mutex
	bar  *mpb.Bar
	last time.Time
}

func (m *mpbBar) Add(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	m.bar.EwmaIncrBy(n, now.Sub(m.last))
	m.last = now
}

func (m *mpbBar) Done() {
	m.bar.SetTotal(-1, true)
}

// logProgress writes one line per counter every so often, and one when it finishes.
type logProgress struct{ every time.Duration }

func (l *logProgress) Bar(name string, total int64) pipeline.Bar {
	return &logBar{name: name, total: total, start: time.Now(), last: time.Now(), every: l.every}
}

func (l *logProgress) Wait() {}

type logBar struct {
	mu          sync.Mutex
	name        string
	total, done int64
	start, last time.Time
	every       time.Duration
}

func (b *logBar) Add(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += int64(n)
	if time.Since(b.last) >= b.every {
		b.last = time.Now()
		b.log("progress")
	}
}

func (b *logBar) log(what string) {
	secs := time.Since(b.start).Seconds()
	slog.Info(what, "stage", b.name, "done", fmt.Sprintf("%d/%d", b.done, b.total), "img_per_s", fmt.Sprintf("%.1f", float64(b.done)/max(secs, 1e-9)))
}

func (b *logBar) Done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.total > 0 {
		b.log("finished")
	}
}
