// Package scaleout is what running a study on a cluster scheduler needs beside the scheduler's own
// files: the census of a plan's work units by shard, read from a run directory, and the estimate
// of a study's size. The schedulers' files are written by scaleout/slurm and scaleout/k8s.
package scaleout

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/vistudy/vistudy/pipeline"
	"github.com/vistudy/vistudy/runtimes/onnx"
	"github.com/vistudy/vistudy/stages/criticality"
	"github.com/vistudy/vistudy/stages/load"
)

// The stage kinds by their study keys (the units they commit are counted here; pipeline does not
// yet list a plan's units).
const (
	kindLoad        = "load"
	kindInfer       = "infer"
	kindPerturb     = "perturb"
	kindMeasure     = "measure"
	kindAggregate   = "aggregate"
	kindCriticality = "criticality"
	kindFilters     = "filters"
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

// commits reports whether instances of the stage write a record per data unit (as the executor
// decides it: load, infer and measure always, perturb when saved).
func commits(st *pipeline.Stage) bool {
	switch st.Kind {
	case kindLoad, kindInfer, kindMeasure:
		return true
	case kindPerturb:
		return st.Save != nil && *st.Save
	}
	return false
}

// DatasetConfig is how the pipeline opens a study's dataset.
func DatasetConfig(s *pipeline.Study, d *pipeline.Dataset) load.Config {
	return load.Config{Name: d.Name, Kind: d.Kind, Path: d.Path, BaseDir: s.Dir, Labels: d.Labels,
		Limit: d.Limit, Seed: s.Seed, Params: d.Params}
}

// DatasetUnits opens every dataset the plan loads and returns its number of data units.
func DatasetUnits(plan *pipeline.Plan) (map[string]int, error) {
	out := map[string]int{}
	size := max(1, plan.Study.Execution.UnitSize)
	for _, in := range plan.Instances {
		if in.Stage.Kind != kindLoad || in.Dataset == nil {
			continue
		}
		d := in.Dataset
		if _, ok := out[d.Name]; ok {
			continue
		}
		samples, err := openDataset(plan.Study, d)
		if err != nil {
			return nil, err
		}
		out[d.Name] = (len(samples) + size - 1) / size
	}
	return out, nil
}

// openDataset lists a dataset's samples.
func openDataset(s *pipeline.Study, d *pipeline.Dataset) ([]load.Sample, error) {
	ds, err := load.Open(DatasetConfig(s, d))
	if err != nil {
		return nil, fmt.Errorf("dataset %q: %w", d.Name, err)
	}
	return ds.Samples(), nil
}

// ExpectedUnits lists every unit the plan commits, in plan order: data units k of the chain's
// dataset (shard k mod N), and the layer units of criticality and the one unit of filters
// (shard (model index + i) mod N).
func ExpectedUnits(plan *pipeline.Plan) ([]Unit, error) {
	counts, err := DatasetUnits(plan)
	if err != nil {
		return nil, err
	}
	var out []Unit
	for _, in := range plan.Instances {
		switch in.Stage.Kind {
		case kindCriticality, kindFilters:
			names, err := modelLevelUnits(in)
			if err != nil {
				return nil, err
			}
			base := slices.Index(plan.Study.Models, in.Model)
			for i, n := range names {
				out = append(out, Unit{Stage: in.Stage.ID, Dir: in.Dir(), Name: n, Index: max(base, 0) + i})
			}
			continue
		}
		if !commits(in.Stage) || in.Root == nil || in.Root.Dataset == nil {
			continue
		}
		for k := range counts[in.Root.Dataset.Name] {
			out = append(out, Unit{Stage: in.Stage.ID, Dir: in.Dir(), Name: fmt.Sprintf("u%05d", k), Index: k})
		}
	}
	return out, nil
}

// modelLevelUnits names the units of a criticality (one per selected layer) or filters instance.
func modelLevelUnits(in *pipeline.Instance) ([]string, error) {
	if in.Stage.Kind == kindFilters {
		return []string{"model"}, nil
	}
	m, err := onnx.Open(in.Model.Path)
	if err != nil {
		return nil, fmt.Errorf("stage %s, model %s: %w", in.Stage.ID, in.Model.Name, err)
	}
	defer m.Close()
	layers, err := criticality.Select(m, in.Params)
	if err != nil {
		return nil, fmt.Errorf("stage %s, model %s: %w", in.Stage.ID, in.Model.Name, err)
	}
	names := make([]string, len(layers))
	for i := range layers {
		names[i] = fmt.Sprintf("l%04d", i)
	}
	return names, nil
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
