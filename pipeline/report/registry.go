package report

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// Figure is one chart, drawn once per output format.
type Figure struct {
	File    string // base file name, without extension; the report prefixes the stage id
	Title   string // heading in index.html
	Caption string // how it was computed, one line
	W, H    vg.Length
	Draw    func(dc draw.Canvas) error
	// Metrics are the stage's metrics the figure draws (none: all of them); their rows are the table
	// and the CSV file shown with the figure unless Data gives those rows.
	Metrics []string
	Data    []arrowio.Result
	// Table is what index.html shows under the figure (filled by the report from Data).
	Table numTable
	// Stage is the id of the stage the figure is drawn from (filled by the report).
	Stage string
}

// Stage is what a figure kind draws from: one stage, its rows and the hint that asked for the figure.
type Stage struct {
	StageInfo
	Rows  []arrowio.Result // the stage's rows, every model's
	Hint  sdk.Figure       // the declared figure being drawn: its kind, metric and label
	study *study           // the whole run's models and their looks
}

// Models lists the models of the whole run, sorted: the order (and colours) of every figure's models.
func (st *Stage) Models() []string { return st.study.models }

// Builder makes a figure kind's figures for one stage: none when its rows do not support the kind.
type Builder func(st *Stage) ([]Figure, error)

// kinds are the registered figure kinds by name.
var (
	kindsMu sync.RWMutex
	kinds   = map[string]Builder{}
)

// RegisterFigure adds the figure kind name; a second kind of the same name panics (a programming error).
func RegisterFigure(name string, b Builder) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if _, dup := kinds[name]; dup {
		panic(fmt.Sprintf("report: figure kind %q registered twice", name))
	}
	kinds[name] = b
}

// FigureKinds lists the registered figure kinds, sorted.
func FigureKinds() []string {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	return slices.Sorted(maps.Keys(kinds))
}

// lookupFigure returns the builder of the figure kind name.
func lookupFigure(name string) (Builder, bool) {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	b, ok := kinds[name]
	return b, ok
}

// figureOverall is the generic figure of a stage whose component declares none: bars of every overall metric.
const figureOverall = "overall"

func init() {
	RegisterFigure(sdk.FigureNone, func(*Stage) ([]Figure, error) { return nil, nil })
}
