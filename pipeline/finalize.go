package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/pipeline/report"
	"github.com/vistudy/vistudy/plugins/host"
	"github.com/vistudy/vistudy/stages/aggregate"
)

// Finalize combines every committed unit of the run directory into results.parquet,
// errors.parquet and manifest.json. It is what `vistudy merge` runs after sharded runs, and
// what a whole run ends with, so both give the same tables. It fails, naming what is missing,
// when a unit has not been committed.
func Finalize(ctx context.Context, plan *Plan, opts Options) error {
	opts.defaults()
	s := plan.Study
	rd := &RunDir{Root: s.Output}
	datasets, err := openDatasets(plan)
	if err != nil {
		return err
	}
	var (
		results []arrowio.Result
		errRows []arrowio.ErrorRow
		missing []string
		units   = map[string]int{}
		seconds = map[string]float64{}
		sweeps  []ManifestSweep
	)
	metrics := map[string]*host.MetricProcess{}
	defer func() {
		for _, m := range metrics {
			m.Close()
		}
	}()
	byStage := map[string][]arrowio.Result{}
	filterSets := map[string][]*Instance{}
	for _, in := range plan.Instances {
		if in.Stage.Kind == KindCriticality || in.Stage.Kind == KindFilters {
			rows, recs, miss, err := modelLevelRows(rd, in)
			if err != nil {
				return err
			}
			if miss != "" {
				missing = append(missing, miss)
				continue
			}
			for _, r := range recs {
				seconds[in.Stage.ID] += r.Seconds
			}
			if in.Stage.Kind == KindCriticality {
				sweeps = append(sweeps, sweepCost(in, recs))
			}
			results = append(results, rows...)
			byStage[in.Stage.ID] = append(byStage[in.Stage.ID], rows...)
			units[in.Stage.ID]++
			if in.Stage.Kind == KindFilters {
				filterSets[in.Stage.ID] = append(filterSets[in.Stage.ID], in)
			}
			continue
		}
		if !commits(in) || !streaming(in) {
			continue
		}
		recs, err := rd.Units(in)
		if err != nil {
			return err
		}
		want := len(datasets[in.Root.Dataset.Name].units)
		if len(recs) != want {
			missing = append(missing, fmt.Sprintf("%s: %d of %d units", in.Key(), want-len(recs), want))
			continue
		}
		units[in.Stage.ID] += len(recs)
		for _, r := range recs {
			seconds[in.Stage.ID] += r.Seconds
		}
		switch in.Stage.Kind {
		case KindLoad:
			for _, r := range recs {
				errRows = append(errRows, r.Errors...)
			}
		case KindMeasure:
			mp := metrics[in.Plugin.Path]
			if mp == nil {
				if mp, err = host.StartMetric(in.Plugin, opts.Mem); err != nil {
					return err
				}
				metrics[in.Plugin.Path] = mp
			}
			ex := &executor{plan: plan, datasets: datasets}
			metric := mp.Bind(in.Params.JSON(), ex.modelContext(in))
			states := make([][]byte, len(recs))
			for i, r := range recs {
				states[i] = r.State
			}
			merged, err := metric.Merge(ctx, states)
			if err != nil {
				return fmt.Errorf("stage %s (%s): merge: %w", in.Stage.ID, in.Dir(), err)
			}
			rows, err := metric.Report(ctx, merged)
			if err != nil {
				return fmt.Errorf("stage %s (%s): report: %w", in.Stage.ID, in.Dir(), err)
			}
			for _, r := range rows {
				res := arrowio.Result{Model: in.ModelName(), Stage: in.Stage.ID, Metric: r.Metric,
					Group: arrowio.JoinGroup(in.Label(), r.Group), Value: r.Value, N: r.N}
				results = append(results, res)
				byStage[in.Stage.ID] = append(byStage[in.Stage.ID], res)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s\n(run the remaining shards, or `vistudy run` again to finish them)", errIncomplete, strings.Join(missing, "\n"))
	}
	for _, st := range s.Stages {
		if st.Kind != KindFilters || len(filterSets[st.ID]) == 0 {
			continue
		}
		rows, err := filterDivergence(filterSets[st.ID])
		if err != nil {
			return fmt.Errorf("stage %s: filter distributions: %w", st.ID, err)
		}
		for i := range rows {
			rows[i].Stage = st.ID
		}
		results = append(results, rows...)
		byStage[st.ID] = append(byStage[st.ID], rows...)
	}
	for _, in := range plan.Instances {
		if in.Stage.Kind != KindAggregate {
			continue
		}
		f, ok := aggregate.Lookup(in.Stage.Plugin)
		if !ok {
			return fmt.Errorf("stage %s: unknown aggregate function %q", in.Stage.ID, in.Stage.Plugin)
		}
		rows, err := f.Run(in.Params, in.Stage.Inputs, aggregate.Inputs(byStage))
		if err != nil {
			return fmt.Errorf("stage %s (%s): %w", in.Stage.ID, f.Name, err)
		}
		for i := range rows {
			rows[i].Stage = in.Stage.ID
		}
		results = append(results, rows...)
		byStage[in.Stage.ID] = append(byStage[in.Stage.ID], rows...)
	}
	if err := arrowio.WriteResults(rd.path(ResultsFile), results, opts.Mem); err != nil {
		return err
	}
	if err := arrowio.WriteErrors(rd.path(ErrorsFile), errRows, opts.Mem); err != nil {
		return err
	}
	if err := report.Write(rd.path(reportDir), StageInfos(s), results); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return writeManifest(plan, rd, opts, datasets, units, seconds, sweeps, len(results), len(errRows))
}

// Manifest records what a run used and did.
type Manifest struct {
	Tool     ManifestTool       `json:"tool"`
	Study    ManifestStudy      `json:"study"`
	Models   []ManifestFile     `json:"models"`
	Plugins  []ManifestPlugin   `json:"plugins"`
	Datasets []ManifestDataset  `json:"datasets"`
	Units    map[string]int     `json:"units"`   // committed units per stage
	Seconds  map[string]float64 `json:"seconds"` // summed unit time per stage
	Sweeps   []ManifestSweep    `json:"criticality_sweeps,omitempty"`
	Results  int                `json:"results"`
	Errors   int                `json:"errors"`
	Finished time.Time          `json:"finished"`
}

// ManifestTool is the vistudy build.
type ManifestTool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Go      string `json:"go"`
}

// ManifestStudy identifies the study.
type ManifestStudy struct {
	File        string     `json:"file"`
	Name        string     `json:"name"`
	Seed        uint64     `json:"seed"`
	Fingerprint string     `json:"fingerprint"`
	Overrides   []Override `json:"overrides,omitempty"`
}

// ManifestFile is a hashed input file.
type ManifestFile struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// ManifestPlugin is a plugin the study used.
type ManifestPlugin struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Version string `json:"version"`
	Path    string `json:"path"`
	SHA256  string `json:"sha256"`
}

// ManifestDataset is a dataset the study read.
type ManifestDataset struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Path    string `json:"path,omitempty"`
	Samples int    `json:"samples"`
	Units   int    `json:"units"`
}

func writeManifest(plan *Plan, rd *RunDir, opts Options, datasets map[string]*datasetUnits, units map[string]int, seconds map[string]float64, sweeps []ManifestSweep, nres, nerr int) error {
	s := plan.Study
	data, err := os.ReadFile(s.File)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	m := Manifest{
		Tool:     ManifestTool{Name: "vistudy", Version: opts.Version, Go: runtime.Version()},
		Study:    ManifestStudy{File: s.File, Name: s.Name, Seed: s.Seed, Fingerprint: Fingerprint(data, opts.Overrides), Overrides: opts.Overrides},
		Units:    units,
		Seconds:  seconds,
		Sweeps:   sweeps,
		Results:  nres,
		Errors:   nerr,
		Finished: time.Now().UTC(),
	}
	for _, md := range s.Models {
		sum, err := host.FileSHA256(md.Path)
		if err != nil {
			return fmt.Errorf("manifest: model %s: %w", md.Name, err)
		}
		st, _ := os.Stat(md.Path)
		m.Models = append(m.Models, ManifestFile{Name: md.Name, Path: md.Path, SHA256: sum, Bytes: st.Size()})
	}
	seen := map[string]bool{}
	addPlugin := func(e *host.Entry) {
		if e == nil || seen[e.Path] {
			return
		}
		seen[e.Path] = true
		m.Plugins = append(m.Plugins, ManifestPlugin{Kind: string(e.Kind), Name: e.Info.Name, Version: e.Info.Version, Path: e.Path, SHA256: e.SHA256})
	}
	for _, in := range plan.Instances {
		addPlugin(in.Plugin)
	}
	if opts.Catalog != nil {
		for _, md := range s.Models {
			e, _ := opts.Catalog.Lookup("runtime", md.Runtime.Plugin)
			addPlugin(e)
		}
	}
	sort.Slice(m.Plugins, func(i, j int) bool { return m.Plugins[i].Kind+m.Plugins[i].Name < m.Plugins[j].Kind+m.Plugins[j].Name })
	for _, d := range s.Datasets {
		if du, ok := datasets[d.Name]; ok {
			m.Datasets = append(m.Datasets, ManifestDataset{Name: d.Name, Kind: d.Kind, Path: d.Path, Samples: len(du.ds.Samples()), Units: len(du.units)})
		}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(rd.path(ManifestName), b)
}

// StageInfos describes the study's stages for the report.
func StageInfos(s *Study) []report.StageInfo {
	out := make([]report.StageInfo, len(s.Stages))
	for i, st := range s.Stages {
		out[i] = report.StageInfo{ID: st.ID, Kind: st.Kind, Plugin: st.Plugin}
	}
	return out
}
