package load

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/pipeline"
	"github.com/vistudy/vistudy/stages/labels"
)

// The `load` stage kind: reads a dataset of the study, decoded to each downstream model's
// geometry (once per geometry: models that share one share the images).
func init() { pipeline.Register(kind{}) }

type kind struct{}

func (kind) Spec() pipeline.KindSpec {
	return pipeline.KindSpec{
		Name:    "load",
		Summary: "reads a dataset, decoded, resized and cropped once per model geometry",
		Flow:    pipeline.FlowSource,
		Keys: []pipeline.Key{
			{Name: "dataset", Type: "string", Doc: "the dataset read (a name under datasets)", Required: true, Role: pipeline.RoleDataset},
		},
		Produces: pipeline.Images,
	}
}

func (kind) Check(*pipeline.Check, *pipeline.Stage) {}

// CheckStudy checks every dataset of the study, used or not: its kind, path, keys and listing.
func (kind) CheckStudy(c *pipeline.Check) {
	kinds := Kinds()
	for _, d := range c.Study.Datasets {
		what := fmt.Sprintf("dataset %q", d.Name)
		if !slices.Contains(kinds, d.Kind) {
			c.Add(d.Pos("kind"), "%s: unknown kind %q (known: %s)", what, d.Kind, strings.Join(kinds, ", "))
			continue
		}
		if d.Path != "" {
			if _, err := os.Stat(d.Path); err != nil {
				c.Add(d.Pos("path"), "%s: %s does not exist", what, d.Path)
				continue
			}
		}
		if d.Limit < 0 {
			c.Add(d.Pos("limit"), "%s: limit must be positive", what)
		}
		cfg := config(c.Study, d)
		if err := CheckParams(cfg); err != nil {
			var ue *UnknownParamError
			var pe *ParamError
			switch {
			case errors.As(err, &ue):
				c.Add(d.Pos(ue.Key), "%v", err)
			case errors.As(err, &pe):
				c.Add(d.Pos(pe.Key), "%v", err)
			default:
				c.Add(d.Pos(""), "%v", named(d.Name, err))
			}
			continue
		}
		if _, err := Open(cfg); err != nil {
			c.Add(d.Pos(""), "%v", named(d.Name, err))
		}
		for _, m := range c.Study.Models {
			if _, err := DecodeMode(d.Decode, geometry(m.Geometry())); err != nil {
				c.Add(d.Pos("decode"), "%s: model %q: %v", what, m.Name, err)
				break
			}
		}
	}
}

// named is err about dataset name, said once: the package's own errors already name their
// dataset ("load: dataset %q: ..."), which is then not named again.
func named(name string, err error) error {
	msg := err.Error()
	if prefix := fmt.Sprintf("load: dataset %q: ", name); strings.HasPrefix(msg, prefix) {
		return fmt.Errorf("dataset %q: %s", name, strings.TrimPrefix(msg, prefix))
	}
	if strings.Contains(msg, fmt.Sprintf("dataset %q", name)) {
		return err
	}
	return fmt.Errorf("dataset %q: %w", name, err)
}

// config is this package's view of a dataset of the study.
func config(s *pipeline.Study, d *pipeline.Dataset) Config {
	return Config{Name: d.Name, Kind: d.Kind, Path: d.Path, BaseDir: s.Dir, Labels: d.Labels,
		Limit: d.Limit, Seed: s.Seed, Params: d.Params}
}

// Expand makes one instance per distinct geometry of the models downstream.
func (kind) Expand(x *pipeline.Expansion, st *pipeline.Stage) ([]*pipeline.Instance, error) {
	var out []*pipeline.Instance
	seen := map[string]bool{}
	for _, m := range x.Downstream(st) {
		g := m.Geometry()
		if seen[g.Key()] {
			continue
		}
		seen[g.Key()] = true
		in := &pipeline.Instance{Stage: st, Geometry: g, Dataset: datasetOf(x.Study, st.Dataset)}
		in.Root = in
		out = append(out, in)
	}
	return out, nil
}

func datasetOf(s *pipeline.Study, name string) *pipeline.Dataset {
	for _, d := range s.Datasets {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// source is a load instance's dataset cut into work units.
type source struct {
	ds     Dataset
	units  [][]Sample
	geom   Geometry
	decode string
}

// geometry is this package's view of a model geometry.
func geometry(g pipeline.Geometry) Geometry {
	return Geometry{Resize: g.Resize, Height: g.Height, Width: g.Width}
}

func (s *source) Units() int        { return len(s.units) }
func (s *source) UnitLen(k int) int { return len(s.units[k]) }
func (s *source) Classes() []string { return s.ds.Labels().Names }

// Digest digests the dataset's listing: every sample's id and labels, and for files their size
// and modification time (what make and rsync compare), so that added, removed or rewritten
// images are noticed when a run resumes.
func (s *source) Digest() (string, error) {
	h := sha256.New()
	for _, u := range s.units {
		for _, sm := range u {
			fmt.Fprintf(h, "%s\x00%d\x00%d\x00%d", sm.ID, sm.Label, sm.Shape, sm.Texture)
			if sm.Path != "" {
				st, err := os.Stat(sm.Path)
				if err == nil {
					fmt.Fprintf(h, "\x00%d\x00%d", st.Size(), st.ModTime().UnixNano())
				}
			}
			h.Write([]byte{'\n'})
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Prepare opens the instance's dataset and cuts it into units of execution.unit_size samples.
func (kind) Prepare(s *pipeline.Study, in *pipeline.Instance) (any, error) {
	ds, err := Open(config(s, in.Dataset))
	if err != nil {
		return nil, named(in.Dataset.Name, err)
	}
	samples := ds.Samples()
	size := s.Execution.UnitSize
	src := &source{ds: ds, geom: geometry(in.Geometry), decode: in.Dataset.Decode}
	for i := 0; i < len(samples); i += size {
		src.units = append(src.units, samples[i:min(i+size, len(samples))])
	}
	return src, nil
}

// runner decodes a source's units with the study's workers and batch size.
type runner struct {
	*source
	loader *Loader
}

// Start binds the prepared source to a loader.
func (kind) Start(_ context.Context, env *pipeline.Env, in *pipeline.Instance) (any, error) {
	state, err := env.State(in)
	if err != nil {
		return nil, err
	}
	workers := env.Study.Execution.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &runner{source: state.(*source),
		loader: &Loader{Workers: workers, BatchSize: env.Study.Execution.BatchSize, Mem: env.Mem, Stage: in.Stage.ID, Decode: in.Dataset.Decode}}, nil
}

func (r *runner) RunUnit(ctx context.Context, k int, emit func(arrow.RecordBatch) error, fail func(arrowio.ErrorRow)) error {
	if c, ok := r.ds.(Columned); ok {
		emit = withColumns(c, r.loader.Mem, emit)
	}
	return r.loader.Run(ctx, r.ds, r.units[k], r.geom, emit, fail)
}

// withColumns adds the dataset's extra columns to each batch before emit takes it.
func withColumns(c Columned, mem memory.Allocator, emit func(arrow.RecordBatch) error) func(arrow.RecordBatch) error {
	return func(rec arrow.RecordBatch) error {
		ids, err := arrowio.StringColumn(rec, arrowio.ColSampleID)
		if err != nil {
			rec.Release()
			return err
		}
		fields, cols, err := c.Columns(mem, ids)
		if err != nil {
			rec.Release()
			return err
		}
		for i, f := range fields {
			next, err := arrowio.SetColumn(rec, f, cols[i])
			rec.Release()
			if err != nil {
				for _, a := range cols[i:] {
					a.Release()
				}
				return err
			}
			cols[i].Release()
			rec = next
		}
		return emit(rec)
	}
}

// Sections are the own keys of each dataset kind.
func (kind) Sections() []pipeline.Section {
	var out []pipeline.Section
	for _, k := range Kinds() {
		specs, _ := Params(k)
		out = append(out, pipeline.Section{Path: "datasets.<name> (kind: " + k + ")",
			Doc: "the keys a " + k + " dataset takes besides kind, path, limit and labels", Keys: pipeline.SpecKeys(specs)})
	}
	return out
}

// LabelSpace is the dataset's label space (the pipeline maps it onto each model's).
func (s *source) LabelSpace() *labels.Space { return s.ds.Labels() }

// ManifestDecoder records how a dataset's JPEGs were decoded.
type ManifestDecoder struct {
	Dataset string `json:"dataset"`
	Decode  string `json:"decode"`  // exact or draft
	Decoder string `json:"decoder"` // libjpeg-turbo 2.1.5, or go image/jpeg (the fallback)
}

// InstanceRows adds no rows: it records in the manifest how the dataset was decoded.
func (kind) InstanceRows(_ context.Context, f *pipeline.Final, in *pipeline.Instance, _ []*pipeline.UnitRecord) ([]arrowio.Result, error) {
	mode := in.Dataset.Decode
	if mode == "" {
		mode = DecodeExact
	}
	f.Record("decoders", ManifestDecoder{Dataset: in.Dataset.Name, Decode: mode, Decoder: Decoder()})
	return nil, nil
}
