package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/arrowio/pqfile"
	"github.com/vistudy/vistudy/pipeline/report"
)

// Final is what a kind sees at finalize: the Env (plugin processes, states, model contexts)
// plus the rows gathered so far, by stage.
type Final struct {
	*Env
	byStage map[string][]arrowio.Result
	extra   map[string][]any
}

// ByStage returns the rows gathered so far, by stage id (summaries read their inputs' rows).
func (f *Final) ByStage() map[string][]arrowio.Result { return f.byStage }

// Record adds v to the manifest's list under key (kind-specific facts of the run, such as the
// cost of a criticality sweep).
func (f *Final) Record(key string, v any) {
	f.extra[key] = append(f.extra[key], v)
}

// UnitRows joins the rows a model-level instance committed, with its model, stage and sweep
// label set.
func UnitRows(in *Instance, recs []*UnitRecord) []arrowio.Result {
	var rows []arrowio.Result
	for _, r := range recs {
		rows = append(rows, r.Rows...)
	}
	for i := range rows {
		rows[i].Model, rows[i].Stage = in.ModelName(), in.Stage.ID
		rows[i].Group = arrowio.JoinGroup(in.Label(), rows[i].Group)
	}
	return rows
}

// Finalize combines every committed unit of the run directory into results.parquet,
// errors.parquet, manifest.json and the report. It is what `vistudy merge` runs after sharded
// runs, and what a whole run ends with, so both give the same tables. It fails, naming what is
// missing, when a unit has not been committed.
func Finalize(ctx context.Context, plan *Plan, opts Options) error {
	return finalize(ctx, plan, opts, nil)
}

// finalize is Finalize taking its metric processes from metrics when that is not nil (the run's).
func finalize(ctx context.Context, plan *Plan, opts Options, metrics *Procs) error {
	opts.defaults()
	defer plan.Close()
	s := plan.Study
	rd := &RunDir{Root: s.Output}
	srcs, err := openSources(plan)
	if err != nil {
		return err
	}
	procs := NewProcs(opts.Catalog, opts.Mem, opts.Log)
	if metrics != nil {
		procs.shareMetrics(metrics)
	}
	defer procs.Close()
	f := &Final{Env: &Env{Study: s, Plan: plan, Procs: procs, Mem: opts.Mem, Log: opts.Log, rd: rd, srcs: srcs},
		byStage: map[string][]arrowio.Result{}, extra: map[string][]any{}}
	var (
		results []arrowio.Result
		errRows []arrowio.ErrorRow
		missing []string
		units   = map[string]int{}
		seconds = map[string]float64{}
		byStage = map[string][]*Instance{}
		empty   []string                    // source instances without a single valid sample
		spans   = map[string][2]time.Time{} // first unit start and last unit end, per stage
	)
	add := func(st *Stage, rows []arrowio.Result) {
		for i := range rows {
			rows[i].Stage = st.ID
		}
		results = append(results, rows...)
		f.byStage[st.ID] = append(f.byStage[st.ID], rows...)
	}
	for _, in := range plan.Instances {
		spec := specOf(in.Stage)
		byStage[in.Stage.ID] = append(byStage[in.Stage.ID], in)
		var want int
		switch spec.Flow {
		case FlowSummary:
			continue
		case FlowModel:
			names, err := plan.unitNames(in)
			if err != nil {
				return err
			}
			want = len(names)
		default:
			if !commits(in) {
				continue
			}
			want = srcs[in.Root].Units()
		}
		recs, err := rd.Units(in)
		if err != nil {
			return err
		}
		if len(recs) != want {
			missing = append(missing, fmt.Sprintf("%s: %d of %d units missing", in.Key(), want-len(recs), want))
			continue
		}
		lost := false
		for _, r := range recs {
			if t := rd.missingTable(r); t != "" {
				if err := rd.drop(in, r.Unit); err != nil {
					return err
				}
				missing = append(missing, fmt.Sprintf("%s: unit %s: its part file %s is missing (deleted?); the unit is dropped and redone by the next run", in.Key(), r.Unit, t))
				lost = true
			}
		}
		if lost {
			continue
		}
		if spec.Flow == FlowModel {
			units[in.Stage.ID]++
		} else {
			units[in.Stage.ID] += len(recs)
		}
		var rows, skipped int64
		for _, r := range recs {
			seconds[in.Stage.ID] += r.Seconds
			span := spans[in.Stage.ID]
			if start := r.Finished.Add(-time.Duration(r.Seconds * float64(time.Second))); span[0].IsZero() || start.Before(span[0]) {
				span[0] = start
			}
			if r.Finished.After(span[1]) {
				span[1] = r.Finished
			}
			spans[in.Stage.ID] = span
			errRows = append(errRows, r.Errors...)
			rows += r.NumRows
			skipped += int64(len(r.Errors))
		}
		if spec.Flow == FlowSource && rows == 0 {
			empty = append(empty, fmt.Sprintf("stage %s (%s): no sample could be read: all %d were skipped", in.Stage.ID, in.Dir(), skipped))
		}
		if ir, ok := kindOf(in.Stage).(InstanceRower); ok {
			rows, err := ir.InstanceRows(ctx, f, in, recs)
			if err != nil {
				return fmt.Errorf("stage %s (%s): %w", in.Stage.ID, in.Dir(), err)
			}
			add(in.Stage, rows)
		}
	}
	recordLabelMaps(f)
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s\n(run the remaining shards, or `vistudy run` again to finish them)", ErrIncomplete, strings.Join(missing, "\n"))
	}
	for _, st := range s.Stages {
		sr, ok := kindOf(st).(StageRower)
		if !ok || specOf(st).Flow == FlowSummary || len(byStage[st.ID]) == 0 {
			continue
		}
		rows, err := sr.StageRows(ctx, f, st, byStage[st.ID])
		if err != nil {
			return fmt.Errorf("stage %s: %w", st.ID, err)
		}
		add(st, rows)
	}
	for _, in := range plan.Instances {
		if specOf(in.Stage).Flow != FlowSummary {
			continue
		}
		ir, ok := kindOf(in.Stage).(InstanceRower)
		if !ok {
			continue
		}
		rows, err := ir.InstanceRows(ctx, f, in, nil)
		if err != nil {
			return fmt.Errorf("stage %s: %w", in.Stage.ID, err)
		}
		add(in.Stage, rows)
	}
	if err := pqfile.WriteErrors(rd.path(ErrorsFile), errRows, opts.Mem); err != nil {
		return err
	}
	if len(empty) > 0 {
		// No number of such a stage could be stood behind: fail instead of reporting n = 0.
		return fmt.Errorf("%s\n(why each input was skipped: %s)", strings.Join(empty, "\n"), rd.path(ErrorsFile))
	}
	if err := pqfile.WriteResults(rd.path(ResultsFile), results, opts.Mem); err != nil {
		return err
	}
	infos := StageInfos(plan)
	if err := writeTidy(plan, rd, opts, infos, results); err != nil {
		return err
	}
	var labelSpecs []string
	for _, md := range s.Models {
		labelSpecs = append(labelSpecs, md.Labels)
	}
	run := report.Run{Study: s.Name, File: s.File, Seed: s.Seed, Version: opts.Version, Finished: time.Now().UTC(),
		Results: len(results), Skipped: len(errRows), Classes: report.SharedClasses(s.Dir, labelSpecs...), Dir: rd.Root}
	if err := report.WriteRun(rd.path(reportDir), run, infos, results); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	wall := map[string]float64{}
	for id, sp := range spans {
		wall[id] = sp[1].Sub(sp[0]).Seconds()
	}
	f.extra["unit_seconds"] = []any{seconds}
	return writeManifest(plan, rd, opts, srcs, infos, units, wall, f.extra, len(results), len(errRows))
}

// ManifestLabelMap records how a dataset's classes were mapped onto a model's outputs.
type ManifestLabelMap struct {
	Dataset       string `json:"dataset"`
	DatasetLabels string `json:"dataset_labels"`
	Model         string `json:"model"`
	ModelLabels   string `json:"model_labels"`
	By            string `json:"by"` // id or name
	Classes       int    `json:"classes"`
}

// recordLabelMaps records in the manifest every (dataset, model) whose labels were mapped.
func recordLabelMaps(f *Final) {
	seen := map[string]bool{}
	for _, in := range f.Plan.Instances {
		if specOf(in.Stage).Produces != Predictions && !comparesLabels(in) {
			continue
		}
		lm, err := f.Plan.LabelMap(in)
		if err != nil || lm == nil || lm.Identity() || !lm.OK() || seen[in.Root.Dataset.Name+"\x00"+in.Model.Name] {
			continue
		}
		seen[in.Root.Dataset.Name+"\x00"+in.Model.Name] = true
		f.Record("label_maps", ManifestLabelMap{Dataset: in.Root.Dataset.Name, DatasetLabels: lm.Dataset,
			Model: in.Model.Name, ModelLabels: lm.Model, By: lm.By, Classes: len(lm.ToModel)})
	}
}

// StageInfos describes the plan's stages for the report, each with the figures its component
// declares: the plugin's Info.Figures and Info.Metrics, or the kind's (Figurer, Metricer).
func StageInfos(plan *Plan) []report.StageInfo {
	s := plan.Study
	out := make([]report.StageInfo, len(s.Stages))
	for i, st := range s.Stages {
		out[i] = report.StageInfo{ID: st.ID, Kind: st.Kind, Plugin: st.Plugin}
		if f, ok := kindOf(st).(Figurer); ok {
			out[i].Figures = f.Figures(st)
		}
		if m, ok := kindOf(st).(Metricer); ok {
			out[i].Metrics = m.Metrics(st)
		}
		for _, in := range plan.Instances {
			if in.Stage == st && in.Plugin != nil {
				out[i].Figures, out[i].Metrics = in.Plugin.Info.Figures, in.Plugin.Info.Metrics
				break
			}
		}
	}
	return out
}
