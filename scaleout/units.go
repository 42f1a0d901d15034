// Package scaleout is what running a study on a cluster scheduler needs beside the scheduler's own
// files: the census of a plan's work units by shard, read from a run directory, and the estimate
// of a study's size. The schedulers' files are written by scaleout/slurm and scaleout/k8s.
package scaleout

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vistudy/vistudy/pipeline"
)

// UnitsDir is the folder of a run directory that holds the unit records (pipeline's layout).
const UnitsDir = "units"

// Unit is one work unit a plan commits: its record is units/<Stage>/<Dir>/<Name>.json.
type Unit struct {
	Stage string // stage id
	Dir   string // the instance's folder below its stage (model=m/k=v)
	Name  string // u00007, l0003 or model
	Index int    // the number that picks its shard: Index mod N
}

// Shard is the shard of n that runs the unit, as `vistudy run --shard i/n` picks it.
func (u Unit) Shard(n int) int {
	if n <= 1 {
		return 0
	}
	return u.Index % n
}

// Record is the path of the unit's record below the run directory.
func (u Unit) Record(runDir string) string {
	return filepath.Join(runDir, UnitsDir, u.Stage, filepath.FromSlash(u.Dir), u.Name+".json")
}

// spec is the declaration of a stage's kind.
func spec(st *pipeline.Stage) (pipeline.KindSpec, pipeline.Kind, error) {
	k, ok := pipeline.LookupKind(st.Kind)
	if !ok {
		return pipeline.KindSpec{}, nil, fmt.Errorf("stage %s: unknown kind %q", st.ID, st.Kind)
	}
	return k.Spec(), k, nil
}

// saved reports whether the stage writes its table (its save:, else its kind's default).
func saved(st *pipeline.Stage, sp pipeline.KindSpec) bool {
	if st.Save != nil {
		return *st.Save
	}
	return sp.Save
}

// source is the data units of the dataset a chain starts from.
func source(plan *pipeline.Plan, in *pipeline.Instance) (pipeline.Source, error) {
	root := in.Root
	if root == nil {
		root = in
	}
	st, err := plan.State(root)
	if err != nil {
		return nil, err
	}
	src, ok := st.(pipeline.Source)
	if !ok {
		return nil, fmt.Errorf("stage %s (%s): its chain starts at %s, which has no data units", in.Stage.ID, in.Dir(), root.Stage.ID)
	}
	return src, nil
}

// modelUnits names the units of a model-level instance (layers of criticality, "model" of filters).
func modelUnits(plan *pipeline.Plan, in *pipeline.Instance, k pipeline.Kind) ([]string, error) {
	u, ok := k.(pipeline.Units)
	if !ok {
		return nil, fmt.Errorf("stage %s: the %s kind lists no units", in.Stage.ID, in.Stage.Kind)
	}
	state, err := plan.State(in)
	if err != nil {
		return nil, err
	}
	return u.UnitNames(plan.Study, in, state)
}

// ExpectedUnits lists every unit the plan commits, in plan order (pipeline's Plan.Units, so
// that the census cannot drift from the executor's rules).
func ExpectedUnits(plan *pipeline.Plan) ([]Unit, error) {
	refs, err := plan.Units()
	if err != nil {
		return nil, err
	}
	out := make([]Unit, len(refs))
	for i, r := range refs {
		out[i] = Unit{Stage: r.Instance.Stage.ID, Dir: r.Instance.Dir(), Name: r.Unit, Index: r.Index}
	}
	return out, nil
}

// ShardCount is how far one shard has got.
type ShardCount struct {
	Shard    int
	Expected int // units the shard commits
	Done     int // of them, those with a record
}

// Missing is the number of the shard's units without a record.
func (c ShardCount) Missing() int { return c.Expected - c.Done }

// Census counts, per shard of n, the units with a record in the run directory.
func Census(runDir string, units []Unit, n int) ([]ShardCount, error) {
	n = max(n, 1)
	out := make([]ShardCount, n)
	for i := range out {
		out[i].Shard = i
	}
	for _, u := range units {
		c := &out[u.Shard(n)]
		c.Expected++
		_, err := os.Stat(u.Record(runDir))
		switch {
		case err == nil:
			c.Done++
		case !os.IsNotExist(err):
			return nil, fmt.Errorf("census of %s: %w", runDir, err)
		}
	}
	return out, nil
}

// Incomplete lists the shards with units missing.
func Incomplete(counts []ShardCount) []int {
	var out []int
	for _, c := range counts {
		if c.Missing() > 0 {
			out = append(out, c.Shard)
		}
	}
	return out
}
