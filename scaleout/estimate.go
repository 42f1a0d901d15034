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

// Work is what a stage's instance does with each sample.
type Work int

// The kinds of work an estimate counts.
const (
	Decode  Work = iota + 1 // reads and decodes images (a source)
	Perturb                 // transforms images (a model-free perturbation: every wave recomputes it)
	Infer                   // runs a model
	Fold                    // folds predictions into a metric state (a sink)
	Layers                  // model-level units, each rerunning the instance's images (criticality)
	Model                   // model-level units that read no images (filters)
)

// StageCount is one stage of a Workload.
type StageCount struct {
	ID         string
	Work       Work
	Instances  int  // instances of the stage: models × sweep points, or sweep points for model-free stages
	Samples    int  // samples each instance processes (its dataset's size)
	Commits    bool // writes a record per data unit (sources, sinks, saved transforms)
	Saved      bool // writes its table (one part file per unit)
	RowBytes   int  // bytes per row of a saved table
	ModelUnits int  // Layers and Model: units per instance
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
		switch st.Work {
		case Layers, Model:
			e.Units += n * int64(st.ModelUnits)
			if st.Work == Layers {
				// Each layer unit reruns the instance's images, after one clean pass.
				e.Inferences += n * int64(st.ModelUnits+1) * int64(st.Samples)
			}
			continue
		}
		e.MaxTasks = max(e.MaxTasks, int(units))
		if st.Commits {
			e.Units += n * units
		}
		if st.Saved {
			e.PartFiles += n * units
			e.Bytes += n * int64(st.Samples) * int64(st.RowBytes)
		}
		switch st.Work {
		case Decode:
			// Every wave decodes the images its models need.
			decode += float64(n*int64(st.Samples)*int64(e.Waves)) / r.Decode
		case Perturb:
			p := n * int64(st.Samples) * int64(e.Waves)
			e.Perturbed += p
			perturb += float64(p) / r.Perturb
		case Infer:
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

// WorkloadOf counts a plan's stages (preparing its sources for their sizes).
func WorkloadOf(plan *pipeline.Plan) (Workload, error) {
	s := plan.Study
	w := Workload{Models: len(s.Models), ParallelModels: s.Execution.ParallelModels, UnitSize: s.Execution.UnitSize}
	byID := map[string]int{}
	for _, in := range plan.Instances {
		sp, k, err := spec(in.Stage)
		if err != nil {
			return Workload{}, err
		}
		if sp.Flow == pipeline.FlowSummary {
			continue
		}
		i, ok := byID[in.Stage.ID]
		if !ok {
			i = len(w.Stages)
			byID[in.Stage.ID] = i
			w.Stages = append(w.Stages, StageCount{ID: in.Stage.ID})
		}
		st := &w.Stages[i]
		st.Instances++
		st.Saved = saved(in.Stage, sp)
		if sp.Flow == pipeline.FlowModel {
			names, err := modelUnits(plan, in, k)
			if err != nil {
				return Workload{}, err
			}
			st.ModelUnits = len(names)
			st.Work = Model
			if in.Input != nil {
				st.Work = Layers
			}
		}
		if in.Input == nil && sp.Flow != pipeline.FlowSource {
			continue
		}
		src, err := source(plan, in)
		if err != nil {
			return Workload{}, err
		}
		st.Samples = 0
		for u := range src.Units() {
			st.Samples += src.UnitLen(u)
		}
		switch sp.Flow {
		case pipeline.FlowSource:
			st.Work, st.Commits = Decode, true
			st.RowBytes = imageRowBytes(in.Geometry.Height, in.Geometry.Width)
		case pipeline.FlowSink:
			st.Work, st.Commits = Fold, true
		case pipeline.FlowTransform:
			st.Commits = st.Saved
			if sp.Produces == pipeline.Predictions {
				st.Work = Infer
				k, err := classes(s, in.Model)
				if err != nil {
					return Workload{}, err
				}
				st.RowBytes = predictionRowBytes(k)
			} else {
				st.Work = Perturb
				st.RowBytes = imageRowBytes(in.Geometry.Height, in.Geometry.Width)
			}
		}
	}
	return w, nil
}

// classes is the size of a model's label space.
func classes(s *pipeline.Study, m *pipeline.Model) (int, error) {
	if m == nil {
		return 1000, nil
	}
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
