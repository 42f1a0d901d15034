package load

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/stages/labels"
)

// KindImageNetC is the dataset kind of the published ImageNet-C layout, <corruption>/<severity>/<wnid>/*.JPEG.
const KindImageNetC = "imagenet-c"

// Parameters of the imagenet-c kind.
const (
	// ParamCorruptions keeps only these corruption folders (a name or a list; default all).
	ParamCorruptions = "corruptions"
	// ParamSeverities keeps only these severities (a number or a list of 1–5; default all).
	ParamSeverities = "severities"
)

func init() {
	if err := Register(KindImageNetC, openImageNetC,
		params.Spec{Name: ParamCorruptions, Type: params.StringList, Description: "keep only these corruption folders (default all)"},
		params.Spec{Name: ParamSeverities, Type: params.IntList, Min: params.Bound(1), Max: params.Bound(5), Description: "keep only these severities, 1–5 (default all)"}); err != nil {
		panic(err)
	}
}

// ImageNetCAttrs returns the corruption and severity of an imagenet-c sample from its ID
// (<corruption>/<severity>/<wnid>/<file>), the values of its corruption and severity columns.
func ImageNetCAttrs(id string) (corruption string, severity int, err error) {
	parts := strings.Split(id, "/")
	if len(parts) < 4 {
		return "", 0, fmt.Errorf("load: sample %q is not <corruption>/<severity>/<wnid>/<file>", id)
	}
	s, err := strconv.Atoi(parts[1])
	if err != nil || s < 1 || s > 5 || parts[1] != strconv.Itoa(s) {
		return "", 0, fmt.Errorf("load: sample %q: severity folder %q is not 1–5", id, parts[1])
	}
	return parts[0], s, nil
}

// openImageNetC lists <corruption>/<severity>/<wnid>/ images: each corruption folder holds severity
// folders 1–5, each holding one folder per class named by its WordNet id (label space imagenet1k
// unless the study names another).
func openImageNetC(cfg Config) (Dataset, error) {
	root, dirs, flat, err := listRoot(cfg)
	if err != nil {
		return nil, err
	}
	if len(flat) > 0 {
		return nil, fmt.Errorf("load: dataset %q: %s has images at its top (%s, ...); imagenet-c wants <corruption>/<severity>/<wnid>/ folders",
			cfg.Name, root, filepath.Base(flat[0]))
	}
	keepC, err := stringsParam(cfg, ParamCorruptions)
	if err != nil {
		return nil, err
	}
	keepS, err := severitiesParam(cfg)
	if err != nil {
		return nil, err
	}
	for _, c := range keepC {
		if !slices.Contains(dirs, c) {
			return nil, fmt.Errorf("load: dataset %q: %s names corruption %q, which %s has no folder for (it has %s)",
				cfg.Name, ParamCorruptions, c, root, strings.Join(dirs, ", "))
		}
	}
	space, err := labelSpace(cfg, func() (*labels.Space, error) {
		s, _ := labels.Builtin(labels.ImageNet1k)
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	var samples []Sample
	found := map[int]bool{} // severities with a folder under some kept corruption
	for _, c := range dirs {
		if len(keepC) > 0 && !slices.Contains(keepC, c) {
			continue
		}
		sevDirs, err := subdirs(filepath.Join(root, c))
		if err != nil {
			return nil, fmt.Errorf("load: dataset %q: %w", cfg.Name, err)
		}
		for _, sd := range sevDirs {
			s, err := strconv.Atoi(sd)
			if err != nil || s < 1 || s > 5 || sd != strconv.Itoa(s) {
				return nil, fmt.Errorf("load: dataset %q: %s: folder %q is not a severity 1–5", cfg.Name, filepath.Join(root, c), sd)
			}
			found[s] = true
			if len(keepS) > 0 && !slices.Contains(keepS, s) {
				continue
			}
			dir := filepath.Join(root, c, sd)
			classes, err := subdirs(dir)
			if err != nil {
				return nil, fmt.Errorf("load: dataset %q: %w", cfg.Name, err)
			}
			for _, wnid := range classes {
				label, err := classOf(space, wnid)
				if err != nil {
					return nil, fmt.Errorf("load: dataset %q: folder %s: %w", cfg.Name, filepath.Join(dir, wnid), err)
				}
				files, err := walkImages(filepath.Join(dir, wnid))
				if err != nil {
					return nil, fmt.Errorf("load: dataset %q: list %s: %w", cfg.Name, filepath.Join(dir, wnid), err)
				}
				for _, f := range files {
					samples = append(samples, fileSample(root, f, label, space))
				}
			}
		}
	}
	for _, s := range keepS {
		if !found[s] {
			return nil, fmt.Errorf("load: dataset %q: %s names severity %d, which no corruption folder of %s has", cfg.Name, ParamSeverities, s, root)
		}
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("load: dataset %q: %s holds no images in <corruption>/<severity>/<wnid>/ folders", cfg.Name, root)
	}
	ds, err := newFileDataset(cfg, samples, space, false)
	if err != nil {
		return nil, err
	}
	return imageNetC{ds}, nil
}

// Column names of the imagenet-c kind's extra columns.
const (
	ColCorruption = "corruption" // dictionary string: the corruption folder
	ColSeverity   = "severity"   // int64: the severity folder, 1–5
)

// imageNetC is an imagenet-c dataset: its batches carry each sample's corruption and severity.
type imageNetC struct{ *fileDataset }

// Columns returns the corruption and severity columns of the samples ids.
func (imageNetC) Columns(mem memory.Allocator, ids []string) ([]arrow.Field, []arrow.Array, error) {
	cb := array.NewDictionaryBuilder(mem, arrowio.ModelType).(*array.BinaryDictionaryBuilder)
	defer cb.Release()
	sb := array.NewInt64Builder(mem)
	defer sb.Release()
	for _, id := range ids {
		c, sev, err := ImageNetCAttrs(id)
		if err != nil {
			return nil, nil, err
		}
		if err := cb.AppendString(c); err != nil {
			return nil, nil, err
		}
		sb.Append(int64(sev))
	}
	ca, sa := cb.NewArray(), sb.NewArray()
	return []arrow.Field{{Name: ColCorruption, Type: arrowio.ModelType}, {Name: ColSeverity, Type: arrow.PrimitiveTypes.Int64}},
		[]arrow.Array{ca, sa}, nil
}

// subdirs lists the sub-folders of dir (hidden ones skipped), sorted.
func subdirs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}

// stringsParam reads a parameter that is a string or a list of strings.
func stringsParam(cfg Config, key string) ([]string, error) {
	v, ok := cfg.Params[key]
	if !ok {
		return nil, nil
	}
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("load: dataset %q: %s[%d] must be a string, got %T", cfg.Name, key, i, e)
			}
			out[i] = s
		}
		return out, nil
	case []string:
		return x, nil
	}
	return nil, fmt.Errorf("load: dataset %q: %s must be a string or a list of strings, got %T", cfg.Name, key, v)
}

// severitiesParam reads severities: a number or a list of numbers, each an integer 1–5.
func severitiesParam(cfg Config) ([]int, error) {
	v, ok := cfg.Params[ParamSeverities]
	if !ok {
		return nil, nil
	}
	list, isList := v.([]any)
	if !isList {
		list = []any{v}
	}
	var out []int
	for i, e := range list {
		var f float64
		switch x := e.(type) {
		case float64:
			f = x
		case int:
			f = float64(x)
		default:
			return nil, fmt.Errorf("load: dataset %q: %s[%d] must be a number 1–5, got %T", cfg.Name, ParamSeverities, i, e)
		}
		if f != float64(int(f)) || f < 1 || f > 5 {
			return nil, fmt.Errorf("load: dataset %q: %s[%d] = %v is not a severity 1–5", cfg.Name, ParamSeverities, i, f)
		}
		out = append(out, int(f))
	}
	return out, nil
}
