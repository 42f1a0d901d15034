package pipeline

import "sync/atomic"

// Progress shows how a run advances; implementations draw bars or write log lines.
type Progress interface {
	// Bar starts a counter of total items.
	Bar(name string, total int64) Bar
	// Wait flushes the display when the run ends.
	Wait()
}

// Bar is one progress counter.
type Bar interface {
	Add(n int)
	Done()
}

type nopProgress struct{}

func (nopProgress) Bar(string, int64) Bar { return nopBar{} }
func (nopProgress) Wait()                 {}

type nopBar struct{}

func (nopBar) Add(int) {}
func (nopBar) Done()   {}

// barKey groups instances into one progress bar: a stage and its model (or image geometry), all
// sweep points together.
func barKey(in *Instance) string {
	if in.Model != nil {
		return in.Stage.Kind + " " + in.Stage.ID + " " + in.Model.Name
	}
	return in.Stage.Kind + " " + in.Stage.ID + " " + in.Geometry.Key()
}

// sharedBar is one progress bar fed by several instances; the last to finish ends it.
type sharedBar struct {
	Bar
	left atomic.Int32
}

// Done ends the bar once every instance feeding it has finished.
func (b *sharedBar) Done() {
	if b.left.Add(-1) == 0 {
		b.Bar.Done()
	}
}

// startBars creates the progress bars of the wave's source and transform instances, each
// counting the images of the units it must process.
func (ex *executor) startBars() {
	totals, users := map[string]int64{}, map[string]int32{}
	var keys []string
	for _, in := range ex.active {
		switch specOf(in.Stage).Flow {
		case FlowSource, FlowTransform:
		default:
			continue
		}
		key := barKey(in)
		if users[key] == 0 {
			keys = append(keys, key)
		}
		users[key]++
		src := ex.sources[in.Root]
		for k := range ex.needed[in] {
			totals[key] += int64(src.UnitLen(k))
		}
	}
	ex.bars = map[string]*sharedBar{}
	for _, key := range keys {
		b := &sharedBar{Bar: ex.opts.Progress.Bar(key, totals[key])}
		b.left.Store(users[key])
		ex.bars[key] = b
	}
}
