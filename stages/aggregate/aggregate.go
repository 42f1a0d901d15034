// Package aggregate holds the built-in aggregate functions: summaries computed from the tidy
// result rows of other stages once every unit is finished (so a merged sharded run and a single
// run give the same numbers), e.g. spectral bias from low- and high-pass accuracies.
package aggregate

import (
	"fmt"
	"sort"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// Inputs are the result rows of the stages an aggregate reads, by stage id.
type Inputs map[string][]arrowio.Result

// Func computes rows (model, metric, group, value, n; the stage is filled in by the caller).
type Func struct {
	Name        string
	Description string
	Params      []params.Spec
	// Run computes the aggregate's rows from its inputs (keyed by the stage ids named in inputs).
	Run func(p params.Values, inputs []string, in Inputs) ([]arrowio.Result, error)
	// Check, when set, validates checked parameters against the stage's inputs before anything runs
	// (e.g. that a parameter naming a stage names one of the inputs), so a typo fails at validate time.
	Check func(p params.Values, inputs []string) error
	// Figures are the report figures drawn from the aggregate's rows (docs/plugins.md, "Declaring a figure").
	Figures []sdk.Figure
	// Metrics declares the metrics of the aggregate's rows (the run's metric catalogue).
	Metrics []sdk.MetricInfo
}

var registry = map[string]*Func{}

// Register adds f; a second function of the same name panics (a programming error).
func Register(f *Func) {
	if _, dup := registry[f.Name]; dup {
		panic(fmt.Sprintf("aggregate: %q registered twice", f.Name))
	}
	registry[f.Name] = f
}

// Lookup returns the function of name.
func Lookup(name string) (*Func, bool) {
	f, ok := registry[name]
	return f, ok
}

// Names lists the registered functions, sorted.
func Names() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
