package pipeline

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// Data is what a stage hands to the stages that read it.
type Data string

// The data a stage can produce or read.
const (
	Images      Data = "images"      // image batches ([C,H,W] in [0,1]) with identity columns
	Predictions Data = "predictions" // one model's predictions per sample
	Rows        Data = "rows"        // tidy result rows
)

// Flow is how the executor schedules a kind's instances.
type Flow int

// The flows the executor knows.
const (
	// FlowSource reads a dataset and emits batches per data unit; it commits each unit (with the
	// inputs it skipped).
	FlowSource Flow = iota + 1
	// FlowTransform turns each batch into one batch; it commits units only when it saves a table.
	FlowTransform
	// FlowSink folds each unit's batches into a mergeable state it commits; the kind turns the
	// merged states into rows at finalize.
	FlowSink
	// FlowModel has units of its own per model (layers, the model's weights); it may read every
	// batch of its input first.
	FlowModel
	// FlowSummary computes rows at finalize from other stages' rows; it runs no units.
	FlowSummary
)

// KindSpec is what a stage kind declares about itself.
type KindSpec struct {
	Name     string // the key of the stage entry (`load:`, `infer:`, ...)
	Summary  string // one line for the docs
	Flow     Flow
	Keys     []Key  // the keys of the stage's block
	Reads    []Data // what `input:` (or `inputs:`) may name; none for a kind without inputs
	Produces Data
	PerModel bool // runs once per model of the study (or of the stage's `models:`)
	Save     bool // the default of the stage's `save:` (write its table)
}

// Kind is one stage kind. Built-in kinds live in stages/<kind> and call Register from init;
// a kind may also implement the optional interfaces below.
type Kind interface {
	// Spec declares the kind's keys, what it reads and produces, and how it is scheduled.
	Spec() KindSpec
	// Check reports the stage's problems beyond its keys' types and references (plugins,
	// parameters, datasets).
	Check(c *Check, st *Stage)
	// Expand turns the stage into instances, given the instances of the stages before it.
	Expand(x *Expansion, st *Stage) ([]*Instance, error)
}

// StudyChecker is a kind that also checks the study as a whole (the load kind checks every
// dataset, used or not).
type StudyChecker interface {
	CheckStudy(c *Check)
}

// Preparer is a kind whose instances hold state prepared once per process (an opened model, a
// selection of layers); pipeline closes the state when it implements io.Closer.
type Preparer interface {
	Prepare(s *Study, in *Instance) (any, error)
}

// Starter is a kind whose instances run in the executor: Start is called once per wave that
// runs the instance and returns the runner its flow needs (Sourcer, Transformer, Folder or
// ModelRunner). A FlowSource kind must also be a Preparer whose state is a Source.
type Starter interface {
	Start(ctx context.Context, env *Env, in *Instance) (any, error)
}

// Source is the prepared state of a FlowSource instance (see Preparer): its samples cut into
// data units. A source may also tell its dataset's class names (Classes() []string).
type Source interface {
	// Units is the number of data units of the instance's dataset.
	Units() int
	// UnitLen is the number of samples of unit k.
	UnitLen(k int) int
}

// Sourcer is the runner of a FlowSource instance.
type Sourcer interface {
	Source
	// RunUnit emits unit k's batches in sample order; skipped inputs go to fail.
	RunUnit(ctx context.Context, k int, emit func(arrow.RecordBatch) error, fail func(arrowio.ErrorRow)) error
}

// Transformer is the runner of a FlowTransform instance.
type Transformer interface {
	// Apply returns the batch for rec (the caller releases both); seed is derived from the
	// study seed, instance, unit and batch.
	Apply(ctx context.Context, rec arrow.RecordBatch, seed uint64) (arrow.RecordBatch, error)
}

// Concurrent is a Transformer whose Apply may run on several batches at once (a model runtime's
// streams): the executor applies up to Concurrency() batches of the instance together and emits
// them in order. A Transformer without it gets one batch at a time.
type Concurrent interface {
	Concurrency() int
}

// Folder is the runner of a FlowSink instance.
type Folder interface {
	// Init returns the empty state of a unit.
	Init(ctx context.Context) ([]byte, error)
	// Accumulate folds a batch into the state, returning per-sample rows to save (or nil).
	Accumulate(ctx context.Context, state []byte, rec arrow.RecordBatch) ([]byte, arrow.RecordBatch, error)
}

// ModelRunner is the runner of a FlowModel instance (closed after its last unit when it is an
// io.Closer).
type ModelRunner interface {
	// Consume takes one batch of the instance's input (kinds with an input); the caller releases it.
	Consume(ctx context.Context, rec arrow.RecordBatch) error
	// RunUnit runs one unit of the instance and returns its record; tables go through out.
	RunUnit(ctx context.Context, unit string, out *UnitOut) (*UnitRecord, error)
}

// Units is a FlowModel kind's list of units for an instance (layers, "model").
type Units interface {
	UnitNames(s *Study, in *Instance, state any) ([]string, error)
}

// InstanceRower is a kind that adds rows at finalize for each of its instances, from the
// instance's committed unit records (sorted by unit).
type InstanceRower interface {
	InstanceRows(ctx context.Context, f *Final, in *Instance, recs []*UnitRecord) ([]arrowio.Result, error)
}

// StageRower is a kind that adds rows at finalize computed over all instances of a stage (after
// every instance's rows, before summaries).
type StageRower interface {
	StageRows(ctx context.Context, f *Final, st *Stage, ins []*Instance) ([]arrowio.Result, error)
}

// Figurer is a kind that declares the report figures of its stages (kinds whose stages run a
// plugin get the plugin's Info.Figures instead).
type Figurer interface {
	Figures(st *Stage) []sdk.Figure
}

// Metricer is a kind that declares the metrics its stages report (the run's metric catalogue,
// metrics.parquet); kinds whose stages run a plugin get the plugin's Info.Metrics instead.
type Metricer interface {
	Metrics(st *Stage) []sdk.MetricInfo
}

var (
	kindsMu sync.RWMutex
	kinds   = map[string]Kind{}
)

// Register adds a stage kind; a second kind of the same name panics (a programming error).
func Register(k Kind) {
	spec := k.Spec()
	if spec.Name == "" || spec.Flow == 0 {
		panic("pipeline: stage kind without a name or flow")
	}
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if _, dup := kinds[spec.Name]; dup || reservedStageKeys[spec.Name] {
		panic(fmt.Sprintf("pipeline: stage kind %q registered twice", spec.Name))
	}
	kinds[spec.Name] = k
}

// reservedStageKeys are the keys of every stage entry, which no kind may take.
var reservedStageKeys = map[string]bool{"id": true, "save": true, "summary": true}

// LookupKind returns the registered kind of name.
func LookupKind(name string) (Kind, bool) {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	k, ok := kinds[name]
	return k, ok
}

// KindNames lists the registered stage kinds, sorted.
func KindNames() []string {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	out := make([]string, 0, len(kinds))
	for n := range kinds {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// kindOf returns the kind of a parsed stage (which exists: the parser checked it).
func kindOf(st *Stage) Kind {
	k, _ := LookupKind(st.Kind)
	return k
}

// specOf is the spec of a stage's kind.
func specOf(st *Stage) KindSpec {
	if k := kindOf(st); k != nil {
		return k.Spec()
	}
	return KindSpec{}
}

// reads reports whether a stage of spec can read what a stage of kind produces.
func (spec KindSpec) reads(d Data) bool { return d != "" && slices.Contains(spec.Reads, d) }
