package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"

	"github.com/vistudy/vistudy/pipeline/report"
	"github.com/vistudy/vistudy/plugins/host"
)

// Manifest records what a run used and did.
type Manifest struct {
	Tool   ManifestTool   `json:"tool"`
	Study  ManifestStudy  `json:"study"`
	Models []ManifestFile `json:"models"`
	// ZeroShot says what each zero-shot model variant (whose Models entry is its composed
	// classifier) was composed from.
	ZeroShot []ManifestZeroShot `json:"zero_shot,omitempty"`
	Plugins  []ManifestPlugin   `json:"plugins"`
	Datasets []ManifestDataset  `json:"datasets"`
	// Stages are the study's stages with the figures their components declare, so that
	// `vistudy report` redraws the same figures without starting a plugin.
	Stages   []report.StageInfo `json:"stages"`
	Units    map[string]int     `json:"units"`   // committed units per stage
	Seconds  map[string]float64 `json:"seconds"` // wall-clock seconds per stage: first unit start to last unit end (unit_seconds: summed over units)
	Results  int                `json:"results"`
	Errors   int                `json:"errors"`
	Finished time.Time          `json:"finished"`
	// Extra holds what stage kinds record (Final.Record), as top-level keys.
	Extra map[string][]any `json:"-"`
}

// MarshalJSON writes the manifest with the kinds' records as top-level keys.
func (m Manifest) MarshalJSON() ([]byte, error) {
	type plain Manifest
	b, err := json.Marshal(plain(m))
	if err != nil || len(m.Extra) == 0 {
		return b, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, err
	}
	for k, v := range m.Extra {
		if _, taken := obj[k]; taken {
			return nil, fmt.Errorf("manifest: a stage kind records %q, a key of the manifest itself", k)
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		obj[k] = raw
	}
	return json.Marshal(obj)
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

func writeManifest(plan *Plan, rd *RunDir, opts Options, srcs map[*Instance]Source, stages []report.StageInfo, units map[string]int, seconds map[string]float64, extra map[string][]any, nres, nerr int) error {
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
		Extra:    extra,
		Stages:   stages,
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
	if m.ZeroShot, err = zeroShotManifest(s); err != nil {
		return fmt.Errorf("manifest: %w", err)
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
		for in, src := range srcs {
			if in.Dataset == d {
				n := 0
				for k := range src.Units() {
					n += src.UnitLen(k)
				}
				m.Datasets = append(m.Datasets, ManifestDataset{Name: d.Name, Kind: d.Kind, Path: d.Path, Samples: n, Units: src.Units()})
				break
			}
		}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(rd.path(ManifestName), b)
}
