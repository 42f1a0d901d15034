package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Study keys, shared by the parser and the documentation so they cannot drift.
const (
	keyName      = "name"
	keySeed      = "seed"
	keyOutput    = "output"
	keyModels    = "models"
	keyDatasets  = "datasets"
	keyStages    = "stages"
	keyPlugins   = "plugins"
	keyRuntime   = "runtime"
	keyExecution = "execution"
)

// Study is a parsed study file.
type Study struct {
	File      string // absolute path of the study file
	Dir       string // relative paths are relative to this folder
	Name      string
	Seed      uint64
	Output    string // absolute run directory
	Plugins   PluginsConfig
	Runtime   RuntimeConfig
	Execution ExecutionConfig
	Models    []*Model
	Datasets  []*Dataset
	Stages    []*Stage

	pos map[string]Pos // position of top-level keys
}

// PluginsConfig says where plugins come from beyond the default folders.
type PluginsConfig struct {
	Dirs []string          // extra folders to search
	Pins map[string]string // plugin name → sha256 the binary must have
	pos  map[string]Pos
}

// RuntimeConfig is how models are run; models may override any key.
type RuntimeConfig struct {
	Plugin    string   // runtime plugin name (default onnxruntime)
	Threads   int      // intra-op threads (0: runtime default)
	Streams   int      // batches of a stage run at once (0: 1, see Model.Streams)
	Chunk     int      // samples per inference run (0: the runtime's choice)
	Providers []string // execution providers in order (default [cpu])
	Fallback  bool     // skip providers that cannot be set up instead of failing
	Library   string   // ONNX Runtime shared library (else ONNXRUNTIME_LIB, else the installed one)
	DeviceID  int
	set       map[string]bool
	pos       map[string]Pos
}

// ExecutionConfig tunes the executor.
type ExecutionConfig struct {
	BatchSize      int // images per batch (default 32)
	UnitSize       int // samples per work unit (default 256)
	Workers        int // decode workers (default GOMAXPROCS)
	ParallelModels int // models evaluated at once (default 4)
	pos            map[string]Pos
}

// InputMapping is how [0,1] RGB pixels become a model's input tensor.
type InputMapping struct {
	Height, Width int
	Resize        int
	Channels      string // RGB or BGR
	Scale         float64
	Mean, Std     []float64
}

// Model is one model of the study.
type Model struct {
	Name         string
	Path         string // absolute
	Input        InputMapping
	Output       string // logits or probabilities
	OutputTensor string
	Labels       string // label space name or absolute file path
	SHA256       string
	Padding      string        // Conv padding of the variant run ("" = as trained)
	Runtime      RuntimeConfig // merged with the study's runtime section
	ZeroShot     *ZeroShot     // the prompt variant of a zero-shot model (nil for a classifier); Path is then its composed classifier
	pos          map[string]Pos
	variants     []*ZeroShot // parsed zero_shot variants, before expandZeroShot
}

// Dataset is one dataset of the study.
type Dataset struct {
	Name   string
	Kind   string
	Path   string // absolute ("" for generated kinds)
	Limit  int
	Labels string
	Decode string         // JPEG decode mode ("" = exact)
	Params map[string]any // kind-specific keys
	pos    map[string]Pos
}

// Stage is one entry of the stages list: its id, kind and the keys of its kind's block, sorted
// by their role.
type Stage struct {
	ID      string
	Kind    string
	Dataset string   // RoleDataset
	Input   string   // RoleInput
	Inputs  []string // RoleInputs
	Plugin  string   // RoleComponent: the attack, metric or function the stage runs
	Params  map[string]any
	Sweep   []string       // RoleSweep: parameters whose lists expand into one instance per value
	Models  []string       // RoleModels: restrict to these models (default all)
	Extra   map[string]any // the kind's own keys
	Save    *bool          // write the stage's table (default: the kind's)
	Summary *bool          // its headline numbers are leaderboard columns (default true)
	pos     map[string]Pos
	ppos    map[string]Pos // positions of params keys
}

// Pos returns where key of the stage was written (the stage itself for "").
func (s *Stage) Pos(key string) Pos { return s.pos[key] }

// ParamPos returns where parameter name was written, or the params block.
func (s *Stage) ParamPos(name string) Pos {
	if p, ok := s.ppos[name]; ok {
		return p
	}
	return s.pos["params"]
}

// Override is a study key set from a flag or the environment: dotted key path, YAML value, source.
type Override struct {
	Key    string
	Value  string
	Source string
}

// LoadStudy reads, overrides and parses a study file. The returned error is Problems when the
// file is readable but wrong.
func LoadStudy(path string, overrides []Override) (*Study, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read study: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("read study: %w", err)
	}
	return ParseStudy(data, abs, overrides)
}

// ParseStudy parses study YAML; file is the absolute path used for positions and relative paths.
func ParseStudy(data []byte, file string, overrides []Override) (*Study, error) {
	var probs Problems
	if len(data) > maxStudyBytes {
		probs.add(Pos{File: file}, "the study file is %d bytes; a study file may have at most %d MiB", len(data), maxStudyBytes>>20)
		return nil, probs
	}
	d := &decoder{file: file, probs: &probs, overrides: map[*yaml.Node]string{}, budget: maxStudyValues}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		probs.add(Pos{File: file, Line: yamlErrLine(err)}, "not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil, probs
	}
	root := &yaml.Node{Kind: yaml.MappingNode}
	if len(doc.Content) > 0 {
		root = doc.Content[0]
	}
	for _, o := range overrides {
		if err := applyOverride(d, root, o); err != nil {
			probs.add(Pos{File: file, Override: o.Source}, "%v", err)
		}
	}
	s := &Study{File: file, Dir: filepath.Dir(file), Seed: 1, pos: map[string]Pos{}}
	s.Runtime = RuntimeConfig{Plugin: "onnxruntime", Providers: []string{"cpu"}, pos: map[string]Pos{}, set: map[string]bool{}}
	s.Execution = ExecutionConfig{BatchSize: 32, UnitSize: 256, ParallelModels: 4, pos: map[string]Pos{}}
	s.Plugins.pos = map[string]Pos{}
	var modelsN, datasetsN, stagesN *yaml.Node
	for _, f := range d.fields(root, "the study", studySection.names()) {
		s.pos[f.key] = d.pos(f.keyN)
		switch f.key {
		case keyName:
			s.Name = d.str(f.value, keyName)
		case keySeed:
			s.Seed = d.uinteger(f.value, keySeed)
		case keyOutput:
			s.Output = s.abs(d.str(f.value, keyOutput))
		case keyPlugins:
			s.parsePlugins(d, f.value)
		case keyRuntime:
			s.Runtime.parse(d, f.value, "runtime", s)
		case keyExecution:
			s.parseExecution(d, f.value)
		case keyModels:
			modelsN = f.value
		case keyDatasets:
			datasetsN = f.value
		case keyStages:
			stagesN = f.value
		}
	}
	if s.Name == "" {
		s.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	if s.Output == "" {
		s.Output = s.abs(filepath.Join("runs", s.Name))
	}
	for _, f := range d.fields(modelsN, "models", nil) {
		m := s.parseModel(d, f)
		s.Models = append(s.Models, s.expandZeroShot(m, m.variants)...)
	}
	for _, f := range d.fields(datasetsN, "datasets", nil) {
		s.Datasets = append(s.Datasets, s.parseDataset(d, f))
	}
	if stagesN != nil {
		for i, n := range d.list(stagesN, "stages") {
			if st := s.parseStage(d, i, n); st != nil {
				s.Stages = append(s.Stages, st)
			}
		}
	}
	s.expandStageModels()
	return s, probs.err()
}

// yamlErrLine extracts the line number of a yaml.v3 syntax error. yaml.v3 reports a parser
// error ("did not find expected ...") at the 0-based line of its context, a scanner error at the
// 1-based line of the problem, so the former is one line early.
func yamlErrLine(err error) int {
	var line int
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if _, e := fmt.Sscanf(msg, "line %d:", &line); e == nil {
		if strings.Contains(msg, ": did not find expected") {
			line++
		}
		return line
	}
	return 0
}

// Bounds of a study file: larger documents, or aliases that expand to more values, are refused
// before they can exhaust memory (a YAML alias bomb expands exponentially).
const (
	maxStudyBytes  = 16 << 20
	maxStudyValues = 1_000_000
)

// abs resolves a study-relative path ("" stays "").
func (s *Study) abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.Dir, p)
}

// KeyPos returns where a top-level key was written (or the file when absent).
func (s *Study) KeyPos(key string) Pos {
	if p, ok := s.pos[key]; ok {
		return p
	}
	return Pos{File: s.File}
}

func (s *Study) parsePlugins(d *decoder, n *yaml.Node) {
	for _, f := range d.fields(n, "plugins", pluginsSection.names()) {
		s.Plugins.pos[f.key] = d.pos(f.keyN)
		switch f.key {
		case "dirs":
			for _, p := range d.strs(f.value, "plugins.dirs") {
				s.Plugins.Dirs = append(s.Plugins.Dirs, s.abs(p))
			}
		case "pin":
			s.Plugins.Pins = map[string]string{}
			for _, g := range d.fields(f.value, "plugins.pin", nil) {
				s.Plugins.Pins[g.key] = d.str(g.value, "plugins.pin."+g.key)
			}
		}
	}
}

func (r *RuntimeConfig) parse(d *decoder, n *yaml.Node, what string, s *Study) {
	if r.pos == nil {
		r.pos = map[string]Pos{}
	}
	if r.set == nil {
		r.set = map[string]bool{}
	}
	for _, f := range d.fields(n, what, runtimeSection.names()) {
		r.pos[f.key] = d.pos(f.keyN)
		r.set[f.key] = true
		switch f.key {
		case "plugin":
			r.Plugin = d.str(f.value, what+".plugin")
		case "threads":
			r.Threads = d.integer(f.value, what+".threads")
		case "streams":
			r.Streams = d.integer(f.value, what+".streams")
		case "chunk":
			r.Chunk = d.integer(f.value, what+".chunk")
		case "providers":
			r.Providers = d.strs(f.value, what+".providers")
		case "fallback":
			r.Fallback = d.boolean(f.value, what+".fallback")
		case "library":
			r.Library = s.abs(d.str(f.value, what+".library"))
		case "device_id":
			r.DeviceID = d.integer(f.value, what+".device_id")
		}
	}
}

// merged returns the study runtime with the keys the model set replaced.
func (r RuntimeConfig) merged(over RuntimeConfig) RuntimeConfig {
	out := r
	out.pos = map[string]Pos{}
	for k, p := range r.pos {
		out.pos[k] = p
	}
	for k := range over.set {
		out.pos[k] = over.pos[k]
		switch k {
		case "plugin":
			out.Plugin = over.Plugin
		case "threads":
			out.Threads = over.Threads
		case "streams":
			out.Streams = over.Streams
		case "chunk":
			out.Chunk = over.Chunk
		case "providers":
			out.Providers = over.Providers
		case "fallback":
			out.Fallback = over.Fallback
		case "library":
			out.Library = over.Library
		case "device_id":
			out.DeviceID = over.DeviceID
		}
	}
	return out
}

func (s *Study) parseExecution(d *decoder, n *yaml.Node) {
	e := &s.Execution
	for _, f := range d.fields(n, "execution", executionSection.names()) {
		e.pos[f.key] = d.pos(f.keyN)
		v := d.integer(f.value, "execution."+f.key)
		switch f.key {
		case "batch_size":
			e.BatchSize = v
		case "unit_size":
			e.UnitSize = v
		case "workers":
			e.Workers = v
		case "parallel_models":
			e.ParallelModels = v
		}
		if v < 0 || (v == 0 && f.key != "workers") {
			d.problem(f.value, "execution.%s must be a positive integer, found %d", f.key, v)
		}
	}
}

func (s *Study) parseModel(d *decoder, f field) *Model {
	m := &Model{Name: f.key, Output: "logits", Labels: "imagenet1k", pos: map[string]Pos{"": d.pos(f.keyN)},
		Input: InputMapping{Channels: "RGB", Scale: 1}}
	what := fmt.Sprintf("model %q", f.key)
	var rt RuntimeConfig
	for _, g := range d.fields(f.value, what, modelSection.names()) {
		m.pos[g.key] = d.pos(g.keyN)
		switch g.key {
		case "path":
			m.Path = s.abs(d.str(g.value, what+" path"))
		case "output":
			m.Output = d.str(g.value, what+" output")
		case "output_tensor":
			m.OutputTensor = d.str(g.value, what+" output_tensor")
		case "labels":
			m.Labels = d.str(g.value, what+" labels")
		case "sha256":
			m.SHA256 = d.str(g.value, what+" sha256")
		case "padding":
			m.Padding = d.str(g.value, what+" padding")
		case "runtime":
			rt.parse(d, g.value, what+" runtime", s)
		case keyZeroShot:
			m.variants = s.parseZeroShot(d, g.value, what, d.pos(g.keyN))
		case "input":
			for _, h := range d.fields(g.value, what+" input", inputSection.names()) {
				m.pos["input."+h.key] = d.pos(h.keyN)
				in := &m.Input
				switch h.key {
				case "size":
					if h.value.Kind == yaml.SequenceNode {
						hw := d.floats(h.value, what+" input.size")
						if len(hw) != 2 {
							d.problem(h.value, "%s input.size must be one number or [height, width]", what)
						} else {
							in.Height, in.Width = int(hw[0]), int(hw[1])
						}
					} else {
						in.Height = d.integer(h.value, what+" input.size")
						in.Width = in.Height
					}
				case "resize":
					in.Resize = d.integer(h.value, what+" input.resize")
				case "channels":
					in.Channels = strings.ToUpper(d.str(h.value, what+" input.channels"))
				case "scale":
					in.Scale = d.float(h.value, what+" input.scale")
				case "mean":
					in.Mean = d.floats(h.value, what+" input.mean")
				case "std":
					in.Std = d.floats(h.value, what+" input.std")
				}
			}
		}
	}
	m.Runtime = s.Runtime.merged(rt)
	if _, zs := m.pos[keyZeroShot]; zs && m.Path != "" {
		d.problem(f.keyN, "%s has `path:` and `zero_shot:`: a zero-shot model is composed from its encoders (give one of them)", what)
	}
	return m
}

func (s *Study) parseDataset(d *decoder, f field) *Dataset {
	ds := &Dataset{Name: f.key, pos: map[string]Pos{"": d.pos(f.keyN)}, Params: map[string]any{}}
	what := fmt.Sprintf("dataset %q", f.key)
	for _, g := range d.fields(f.value, what, nil) {
		ds.pos[g.key] = d.pos(g.keyN)
		switch g.key {
		case "kind":
			ds.Kind = d.str(g.value, what+" kind")
		case "path":
			ds.Path = s.abs(d.str(g.value, what+" path"))
		case "limit":
			ds.Limit = d.integer(g.value, what+" limit")
		case "labels":
			ds.Labels = d.str(g.value, what+" labels")
		case "decode":
			ds.Decode = d.str(g.value, what+" decode")
		default:
			ds.Params[g.key] = d.value(g.value) // kind-specific; checked by the kind
		}
	}
	return ds
}

func (s *Study) parseStage(d *decoder, i int, n *yaml.Node) *Stage {
	st := &Stage{pos: map[string]Pos{"": d.pos(n)}, ppos: map[string]Pos{}, Params: map[string]any{}, Extra: map[string]any{}}
	what := fmt.Sprintf("stage %d", i+1)
	known := KindNames()
	var body *yaml.Node
	for _, f := range d.fields(n, what, append([]string{"id", "save", "summary"}, known...)) {
		st.pos[f.key] = d.pos(f.keyN)
		switch f.key {
		case "id":
			st.ID = d.str(f.value, what+" id")
			what = fmt.Sprintf("stage %q", st.ID)
		case "save":
			b := d.boolean(f.value, what+" save")
			st.Save = &b
		case "summary":
			b := d.boolean(f.value, what+" summary")
			st.Summary = &b
		default:
			if st.Kind != "" {
				d.problem(f.keyN, "%s has two kinds, %s and %s: one stage does one thing", what, st.Kind, f.key)
				continue
			}
			st.Kind, body = f.key, f.value
			st.pos["kind"] = d.pos(f.keyN)
		}
	}
	if st.ID == "" {
		d.problem(n, "%s has no id (every stage needs `id:`)", what)
	}
	if st.Kind == "" {
		d.problem(n, "%s says nothing to do: give one of %s", what, strings.Join(known, ", "))
		return st
	}
	spec := specOf(st)
	sec := kindSection(spec)
	for _, f := range d.fields(body, what+" "+st.Kind, sec.names()) {
		st.pos[f.key] = d.pos(f.keyN)
		key := sec.Keys[slices.IndexFunc(sec.Keys, func(k Key) bool { return k.Name == f.key })]
		switch key.Role {
		case RoleDataset:
			st.Dataset = d.str(f.value, what+" "+f.key)
		case RoleInput:
			st.Input = d.str(f.value, what+" "+f.key)
		case RoleInputs:
			st.Inputs = d.strs(f.value, what+" "+f.key)
		case RoleComponent:
			st.Plugin = d.str(f.value, what+" "+f.key)
		case RoleSweep:
			st.Sweep = d.strs(f.value, what+" "+f.key)
		case RoleModels:
			st.Models = d.strs(f.value, what+" "+f.key)
		case RoleParams:
			for _, g := range d.fields(f.value, what+" "+f.key, nil) {
				st.ppos[g.key] = d.pos(g.keyN)
				st.Params[g.key] = d.value(g.value)
			}
		default:
			st.Extra[f.key] = d.value(f.value)
		}
	}
	return st
}
