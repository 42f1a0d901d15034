package pipeline

import (
	"fmt"
	"strings"

	"github.com/vistudy/vistudy/plugins/params"
)

// Role is what a key of a stage block means to the pipeline (the other keys are the kind's own).
type Role int

// The roles of stage-block keys.
const (
	RoleNone      Role = iota // the kind's own key, kept in Stage.Extra
	RoleInput                 // the id of the stage read
	RoleInputs                // the ids of the stages read
	RoleDataset               // the dataset read
	RoleComponent             // the plugin or function the stage runs (Stage.Plugin)
	RoleParams                // the component's parameters
	RoleSweep                 // parameters whose lists expand into one instance per value
	RoleModels                // the models the stage runs for
)

// Key is one key of a study section: its name, type, default, meaning and (in stage blocks) role.
type Key struct {
	Name     string
	Type     string // as the docs write it: string, integer, number, boolean, path, list of strings, mapping, ...
	Default  string // as the docs write it ("" when none)
	Doc      string // one line
	Required bool
	Role     Role
}

// Section is one section of the study file and its keys.
type Section struct {
	Path string // dotted path with <name> for map entries: "models.<name>.input"
	Doc  string
	Keys []Key
	// Open sections take keys beyond Keys (a dataset kind's own keys, a runtime plugin's).
	Open bool
}

// names lists the section's keys.
func (s Section) names() []string {
	out := make([]string, len(s.Keys))
	for i, k := range s.Keys {
		out[i] = k.Name
	}
	return out
}

// Common stage-block keys, shared by the kinds that take them.
var (
	// KeyInput is `input:` — the stage read.
	KeyInput = Key{Name: "input", Type: "stage id", Doc: "the stage whose output this stage reads", Required: true, Role: RoleInput}
	// KeyParams is `params:` — the component's parameters.
	KeyParams = Key{Name: "params", Type: "mapping", Doc: "parameters of the plugin or function (its schema: `vistudy plugins list`)", Role: RoleParams}
	// KeySweep is `sweep:` — swept parameters.
	KeySweep = Key{Name: "sweep", Type: "list of strings", Doc: "parameters whose lists expand into one instance per value (cartesian product)", Role: RoleSweep}
	// KeyModels is `models:` — restrict to these models.
	KeyModels = Key{Name: "models", Type: "list of strings", Default: "all models", Doc: "run for these models only", Role: RoleModels}
)

// The fixed sections of the study file. Stage kinds add one section each (stages[].<kind>).
var (
	studySection = Section{Path: "", Doc: "the study file's top level", Keys: []Key{
		{Name: keyName, Type: "string", Default: "the file name", Doc: "study name"},
		{Name: keySeed, Type: "integer", Default: "1", Doc: "seed of every random choice (subsets, perturbations, re-initialisations)"},
		{Name: keyOutput, Type: "path", Default: "runs/<name>", Doc: "run directory (flag --output overrides)"},
		{Name: keyPlugins, Type: "mapping", Doc: "where plugins come from (section plugins)"},
		{Name: keyRuntime, Type: "mapping", Doc: "how models are run (section runtime)"},
		{Name: keyExecution, Type: "mapping", Doc: "executor settings (section execution)"},
		{Name: keyModels, Type: "mapping", Doc: "model name → model (section models.<name>)", Required: true},
		{Name: keyDatasets, Type: "mapping", Doc: "dataset name → dataset (section datasets.<name>)"},
		{Name: keyStages, Type: "list", Doc: "the stages, each `id:` plus one kind key (section stages[])", Required: true},
	}}
	pluginsSection = Section{Path: "plugins", Doc: "where plugin binaries come from", Keys: []Key{
		{Name: "dirs", Type: "list of paths", Doc: "extra folders searched for vistudy-<kind>-<name> binaries"},
		{Name: "pin", Type: "mapping", Doc: "plugin name → the sha256 its binary must have"},
	}}
	runtimeSection = Section{Path: "runtime", Doc: "how models are run; a model's own runtime: replaces keys one by one", Keys: []Key{
		{Name: "plugin", Type: "string", Default: "onnxruntime", Doc: "runtime plugin"},
		{Name: "threads", Type: "integer", Default: "0 (the cores; with whole batches, shared among the streams)", Doc: "CPU threads of the model: chunk runs at once, one thread each; with whole batches, each run's intra-op threads"},
		{Name: "streams", Type: "integer", Default: "1", Doc: "batches of a stage a model runs at once (more: faster on few cores, more memory)"},
		{Name: "chunk", Type: "integer", Default: "0 (the runtime's choice: 4 samples on the CPU, whole batches on a GPU)", Doc: "samples per inference run, side by side on one thread each (-1: whole batches on the intra-op threads)"},
		{Name: "providers", Type: "list of strings", Default: "[cpu]", Doc: "execution providers in order: tensorrt, cuda, cpu"},
		{Name: "fallback", Type: "boolean", Default: "false", Doc: "skip providers that cannot be set up (with a warning) instead of failing"},
		{Name: "library", Type: "path", Default: "ONNXRUNTIME_LIB, else the installed one", Doc: "ONNX Runtime shared library"},
		{Name: "device_id", Type: "integer", Default: "0", Doc: "GPU of the cuda/tensorrt providers"},
	}}
	executionSection = Section{Path: "execution", Doc: "executor settings", Keys: []Key{
		{Name: "batch_size", Type: "integer", Default: "32", Doc: "images per batch"},
		{Name: "unit_size", Type: "integer", Default: "256", Doc: "samples per work unit (the grain of resume and --shard)"},
		{Name: "workers", Type: "integer", Default: "GOMAXPROCS", Doc: "image decode workers"},
		{Name: "parallel_models", Type: "integer", Default: "4", Doc: "models evaluated at once (waves)"},
	}}
	modelSection = Section{Path: "models.<name>", Doc: "one model; its name is the `model` column", Keys: []Key{
		{Name: "path", Type: "path", Default: "required unless zero_shot", Doc: "the .onnx file"},
		{Name: keyZeroShot, Type: "mapping", Doc: "a zero-shot (CLIP-style) model instead of path (section models.<name>.zero_shot)"},
		{Name: "input", Type: "mapping", Doc: "how [0,1] RGB pixels become the model's input (section models.<name>.input)", Required: true},
		{Name: "output", Type: "string", Default: "logits", Doc: "logits or probabilities"},
		{Name: "output_tensor", Type: "string", Default: "the graph's output", Doc: "the tensor read as the output (e.g. logits before a final Softmax)"},
		{Name: "labels", Type: "string", Default: "imagenet1k", Doc: "label space: imagenet1k, or a file of class names"},
		{Name: "sha256", Type: "string", Doc: "the sha256 the model file must have"},
		{Name: "padding", Type: "string", Default: "zeros (as trained)", Doc: "run a variant with every Conv's zero padding rewritten: reflect, replicate or circular (the border analysis compares them)"},
		{Name: "runtime", Type: "mapping", Doc: "keys of the runtime section for this model"},
	}}
	inputSection = Section{Path: "models.<name>.input", Doc: "how [0,1] RGB pixels become the model's input tensor", Keys: []Key{
		{Name: "size", Type: "integer or [height, width]", Doc: "centre-crop size", Required: true},
		{Name: "resize", Type: "integer", Default: "no resize", Doc: "shorter side before the crop"},
		{Name: "channels", Type: "string", Default: "RGB", Doc: "RGB or BGR"},
		{Name: "scale", Type: "number", Default: "1", Doc: "multiply [0,1] by this before mean and std"},
		{Name: "mean", Type: "list of numbers", Default: "[0, 0, 0]", Doc: "subtracted per channel (1 or 3 values, model channel order)"},
		{Name: "std", Type: "list of numbers", Default: "[1, 1, 1]", Doc: "divided per channel (1 or 3 values)"},
	}}
	datasetSection = Section{Path: "datasets.<name>", Doc: "one dataset; its kind may take keys of its own", Open: true, Keys: []Key{
		{Name: "kind", Type: "string", Doc: "dataset kind (`vistudy plugins list` lists them)", Required: true},
		{Name: "path", Type: "path", Doc: "folder or file (generated kinds have none)"},
		{Name: "limit", Type: "integer", Default: "all samples", Doc: "a seeded subset of this many samples"},
		{Name: "labels", Type: "string", Default: "the kind's", Doc: "label space of the dataset's classes"},
		{Name: "decode", Type: "string", Default: "exact", Doc: "JPEG decoding: exact (PIL's, bit for bit) or draft (libjpeg's DCT-domain downscaling of large JPEGs, as PIL's draft: faster, changes numbers)"},
	}}
	stageSection = Section{Path: "stages[]", Doc: "one stage: `id:`, `save:`, `summary:` and one kind key whose block is the kind's section", Keys: []Key{
		{Name: "id", Type: "string", Doc: "the stage's name (tables/<id>/, the `stage` column)", Required: true},
		{Name: "save", Type: "boolean", Default: "the kind's", Doc: "write the stage's table under tables/<id>/"},
		{Name: "summary", Type: "boolean", Default: "true", Doc: "the stage's headline numbers are columns of the leaderboard (summary.json, `vistudy summary`)"},
	}}
)

// kindSection is the section of a stage kind's block.
func kindSection(spec KindSpec) Section {
	return Section{Path: "stages[]." + spec.Name, Doc: spec.Summary, Keys: spec.Keys}
}

// Sectioner is a kind that adds sections of its own to the schema (the load kind: the keys of
// each dataset kind).
type Sectioner interface {
	Sections() []Section
}

// SpecKeys turns parameter specs into section keys.
func SpecKeys(specs []params.Spec) []Key {
	out := make([]Key, len(specs))
	for i, sp := range specs {
		k := Key{Name: sp.Name, Type: strings.ReplaceAll(string(sp.Type), "_", " of "), Doc: sp.Description, Required: sp.Required}
		if sp.Default != nil {
			k.Default = fmt.Sprint(sp.Default)
		}
		if len(sp.Choices) > 0 {
			k.Doc += " (" + strings.Join(sp.Choices, ", ") + ")"
		}
		out[i] = k
	}
	return out
}

// Sections lists every section of the study file, the stage kinds' blocks included: the one
// schema from which the parser's allowed keys, the overridable keys and docs/study.md derive.
func Sections() []Section {
	out := []Section{studySection, pluginsSection, runtimeSection, executionSection, modelSection, inputSection, zeroShotSection, datasetSection, stageSection}
	var more []Section
	for _, n := range KindNames() {
		k, _ := LookupKind(n)
		out = append(out, kindSection(k.Spec()))
		if sc, ok := k.(Sectioner); ok {
			more = append(more, sc.Sections()...)
		}
	}
	return append(out, more...)
}

// SchemaMarkdown renders the sections as the key tables of docs/study.md.
func SchemaMarkdown() string {
	var b strings.Builder
	for _, s := range Sections() {
		title := s.Path
		if title == "" {
			title = "top level"
		}
		fmt.Fprintf(&b, "### `%s`\n\n%s.", title, s.Doc)
		if s.Open {
			b.WriteString(" Keys of the kind's own are allowed too.")
		}
		b.WriteString("\n\n| key | type | default | meaning |\n|---|---|---|---|\n")
		for _, k := range s.Keys {
			def := k.Default
			if k.Required {
				def = "required"
			}
			if def == "" {
				def = "—"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.Name, k.Type, def, k.Doc)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// overridableKeys are the dotted keys of the fixed sections that --set or VISTUDY_<KEY> can set
// even where the study file does not write them (every key but the mappings and the stages).
func overridableKeys() []string {
	var out []string
	for _, s := range []Section{studySection, runtimeSection, executionSection} {
		for _, k := range s.Keys {
			if k.Type == "mapping" || k.Type == "list" {
				continue
			}
			out = append(out, join(s.Path, k.Name))
		}
	}
	return out
}
