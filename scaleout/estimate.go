package scaleout

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/vistudy/vistudy/pipeline"
	"github.com/vistudy/vistudy/stages/labels"
)

// Workload is a study counted on paper: its stages with their instances and samples. Build it
// from a plan with WorkloadOf, or by hand for a study that does not exist yet.
type Workload struct {
	Models         int // models of the study
	ParallelModels int // models evaluated at once (execution.parallel_models): a task runs ⌈Models/ParallelModels⌉ waves
	UnitSize       int // samples per data unit (execution.unit_size)
	Stages         []StageCount
}

// StageCount is one stage of a Workload.
type StageCount struct {
	ID         string
	Kind       string // kindLoad, KindInfer, ...
	Instances  int    // instances of the stage: models × sweep points, or sweep points for model-free stages
	Samples    int    // samples each instance processes (its dataset's size)
	Saved      bool   // writes its table (one part file per unit)
	RowBytes   int    // bytes per row of a saved table
	ModelUnits int    // criticality and filters: units per instance (layers, or 1)
}

// Rates are the speeds an estimate assumes, per task.
type Rates struct {
	Infer     float64       // images per second through one model (inference, including transfer)
	Perturb   float64       // perturbed images per second (model-free perturbations)
	Decode    float64       // decoded images per second
	ModelLoad time.Duration // to start a runtime and load one model
	Record    int           // bytes of one unit record (JSON, with a metric state)
}

// DefaultRates are those of one GPU running a ResNet-50 with ONNX Runtime (CUDA), and a few cores
// decoding and perturbing: order-of-magnitude figures, to be replaced by a measured shard.
var DefaultRates = Rates{Infer: 1000, Perturb: 400, Decode: 800, ModelLoad: 10 * time.Second, Record: 600}

// Estimate is the size of a study run as Tasks array tasks.
type Estimate struct {
	Units       int64         // work units committed (one record each)
	PartFiles   int64         // Parquet part files written
	Bytes       int64         // bytes written: tables (uncompressed) and records
	Inferences  int64         // images through a model, summed over models
	Perturbed   int64         // perturbed images, counting every wave that recomputes them
	Waves       int           // model waves per task
	MaxTasks    int           // most tasks that each get work: the data units of the largest dataset
	Tasks       int           // array tasks
	TaskLength  time.Duration // expected length of one task
	TotalLength time.Duration // Tasks × TaskLength: the cluster time the study takes
}

// EstimateWorkload sizes a workload run as shards tasks; with shards ≤ 0 it picks the fewest tasks
// whose length stays within target (at most MaxTasks).
func EstimateWorkload(w Workload, r Rates, shards int, target time.Duration) Estimate {
	unit := max(1, w.UnitSize)
	e := Estimate{Waves: int(ceilDiv(int64(max(w.Models, 1)), int64(max(w.ParallelModels, 1))))}
	var infer, perturb, decode float64 // seconds of work over the whole study
	for _, st := range w.Stages {
		n := int64(st.Instances)
		units := ceilDiv(int64(st.Samples), int64(unit))
		switch st.Kind {
		case kindCriticality, kindFilters:
			e.Units += n * int64(st.ModelUnits)
			if st.Kind == kindCriticality {
				// Each layer unit reruns the instance's images, after one clean pass.
				e.Inferences += n * int64(st.ModelUnits+1) * int64(st.Samples)
			}
			continue
		}
		e.MaxTasks = max(e.MaxTasks, int(units))
		switch st.Kind {
		case kindLoad, kindInfer, kindMeasure:
			e.Units += n * units
		case kindPerturb:
			if st.Saved {
				e.Units += n * units
			}
		}
		if st.Saved {
			e.PartFiles += n * units
			e.Bytes += n * int64(st.Samples) * int64(st.RowBytes)
		}
		switch st.Kind {
		case kindLoad:
			// Every wave decodes the images its models need.
			decode += float64(n*int64(st.Samples)*int64(e.Waves)) / r.Decode
		case kindPerturb:
			p := n * int64(st.Samples) * int64(e.Waves)
			e.Perturbed += p
			perturb += float64(p) / r.Perturb
		case kindInfer:
			e.Inferences += n * int64(st.Samples)
		}
	}
	infer = float64(e.Inferences) / r.Infer
	e.Bytes += e.Units * int64(r.Record)
	e.MaxTasks = max(e.MaxTasks, 1)
	work := infer + perturb + decode
	load := float64(w.Models) * r.ModelLoad.Seconds() // every task loads every model once
	length := func(n int) float64 { return work/float64(n) + load }
	switch {
	case shards > 0:
		e.Tasks = shards
	default:
		e.Tasks = e.MaxTasks
		for n := 1; n <= e.MaxTasks; n++ {
			if length(n) <= target.Seconds() {
				e.Tasks = n
				break
			}
		}
	}
	e.TaskLength = seconds(length(e.Tasks))
	e.TotalLength = time.Duration(e.Tasks) * e.TaskLength
	return e
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

func seconds(s float64) time.Duration { return time.Duration(math.Round(s)) * time.Second }

// predictionRowBytes is a predictions row: logits of k classes (float32), pred, confidence, label
// and about 60 bytes of sample id and label name.
func predictionRowBytes(k int) int { return 4*k + 4 + 4 + 4 + 60 }

// imageRowBytes is a saved image row of c×h×w float32 pixels plus its identity columns.
func imageRowBytes(h, w int) int { return 4*3*h*w + 64 }

// WorkloadOf counts a plan's stages, opening its datasets for their sizes.
func WorkloadOf(plan *pipeline.Plan) (Workload, error) {
	s := plan.Study
	samples := map[string]int{}
	for _, in := range plan.Instances {
		if in.Stage.Kind != kindLoad || in.Dataset == nil {
			continue
		}
		if _, ok := samples[in.Dataset.Name]; ok {
			continue
		}
		n, err := datasetSamples(s, in.Dataset)
		if err != nil {
			return Workload{}, err
		}
		samples[in.Dataset.Name] = n
	}
	w := Workload{Models: len(s.Models), ParallelModels: s.Execution.ParallelModels, UnitSize: s.Execution.UnitSize}
	byID := map[string]int{}
	for _, in := range plan.Instances {
		if in.Stage.Kind == kindAggregate {
			continue
		}
		i, ok := byID[in.Stage.ID]
		if !ok {
			i = len(w.Stages)
			byID[in.Stage.ID] = i
			w.Stages = append(w.Stages, StageCount{ID: in.Stage.ID, Kind: in.Stage.Kind})
		}
		st := &w.Stages[i]
		st.Instances++
		if in.Root != nil && in.Root.Dataset != nil {
			st.Samples = samples[in.Root.Dataset.Name]
		}
		st.Saved = saved(in.Stage)
		switch in.Stage.Kind {
		case kindInfer:
			k, err := classes(s, in.Model)
			if err != nil {
				return Workload{}, err
			}
			st.RowBytes = predictionRowBytes(k)
		case kindLoad, kindPerturb:
			st.RowBytes = imageRowBytes(in.Geometry.Height, in.Geometry.Width)
		case kindCriticality, kindFilters:
			names, err := modelLevelUnits(in)
			if err != nil {
				return Workload{}, err
			}
			st.ModelUnits = len(names)
		}
	}
	return w, nil
}

// saved reports whether the stage writes its table (infer by default, the others when save: true).
func saved(st *pipeline.Stage) bool {
	if st.Save != nil {
		return *st.Save
	}
	return st.Kind == kindInfer
}

func datasetSamples(s *pipeline.Study, d *pipeline.Dataset) (int, error) {
	ds, err := openDataset(s, d)
	if err != nil {
		return 0, err
	}
	return len(ds), nil
}

// classes is the size of a model's label space.
func classes(s *pipeline.Study, m *pipeline.Model) (int, error) {
	spec := m.Labels
	if spec == "" {
		spec = "imagenet1k"
	}
	sp, err := labels.Resolve(spec, s.Dir)
	if err != nil {
		return 0, fmt.Errorf("model %s: labels: %w", m.Name, err)
	}
	return len(sp.IDs), nil
}

// Write prints the estimate with the rates it assumed.
func (e Estimate) Write(w io.Writer, r Rates) error {
	_, err := fmt.Fprintf(w, `units        %d (one record each under units/)
part files   %d
bytes        %s (tables uncompressed, plus records)
inferences   %d (images through a model)
perturbed    %d (%d model waves per task recompute model-free perturbations)
tasks        %d (at most %d get work: the data units of the largest dataset)
task length  %s (every task loads every model once)
total        %s of task time
assumed      %.0f inferences/s, %.0f perturbations/s, %.0f decodes/s per task, %s per model load
`, e.Units, e.PartFiles, humanBytes(e.Bytes), e.Inferences, e.Perturbed, e.Waves, e.Tasks, e.MaxTasks,
		e.TaskLength, e.TotalLength, r.Infer, r.Perturb, r.Decode, r.ModelLoad)
	return err
}

// humanBytes renders n in binary units.
func humanBytes(n int64) string {
	const k = 1024
	f := float64(n)
	for _, u := range []string{"B", "KiB", "MiB", "GiB", "TiB"} {
		if f < k || u == "TiB" {
			return fmt.Sprintf("%.1f %s", f, u)
		}
		f /= k
	}
	return ""
}
