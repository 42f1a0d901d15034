package load

import (
	"cmp"
	"errors"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/stages/labels"
)

// Sample is one image of a dataset and its labels.
type Sample struct {
	Index     int    // position in Dataset.Samples()
	ID        string // stable identity: the dataset-relative path with forward slashes
	Path      string // absolute file path; "" for generated images
	Label     int32  // index in the dataset's label space
	LabelName string // the label's class name
	Shape     int32  // cue-conflict shape class, -1 otherwise
	Texture   int32  // cue-conflict texture class, -1 when absent or not cue-conflict
}

// Columned is a dataset whose samples carry values beyond their labels, loaded as columns of every
// batch (imagenet-c: corruption and severity).
type Columned interface {
	// Columns returns the extra columns for the samples ids, in order (the caller releases them).
	Columns(mem memory.Allocator, ids []string) ([]arrow.Field, []arrow.Array, error)
}

// Dataset is an ordered, labelled set of images.
type Dataset interface {
	Name() string                        // the dataset's name in the study
	Kind() string                        // the registered kind that opened it
	Samples() []Sample                   // all samples, sorted by ID, Index = position
	Labels() *labels.Space               // the label space of Sample.Label
	CueConflict() bool                   // whether samples carry shape and texture classes
	Image(s Sample) (image.Image, error) // the sample's pixels, decoded from s.Path or rendered; safe for concurrent use
}

// Config is a dataset entry of the study file.
type Config struct {
	Name    string         // dataset name in the study
	Kind    string         // registered kind: imagefolder, cue-conflict, manifest, ...
	Path    string         // folder or manifest file, relative to BaseDir unless absolute
	BaseDir string         // folder of the study file
	Labels  string         // label space: a built-in name or a class-name file (relative to BaseDir); "" = the kind's default
	Limit   int            // > 0: keep a seeded random subset of this many samples, in sorted order
	Seed    uint64         // seed of the subset
	Params  map[string]any // kind-specific parameters
}

// OpenFunc opens a dataset of one kind; Open applies Config.Limit to what it returns.
type OpenFunc func(Config) (Dataset, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]OpenFunc{}
	kindParams = map[string][]params.Spec{}
)

// Register adds a dataset kind with the schema of the kind-specific keys it takes (call it from
// init); a kind registered twice is an error.
func Register(kind string, open OpenFunc, specs ...params.Spec) error {
	if kind == "" || open == nil {
		return fmt.Errorf("load: register dataset kind %q: empty kind or nil open function", kind)
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[kind]; dup {
		return fmt.Errorf("load: dataset kind %q is already registered", kind)
	}
	registry[kind] = open
	kindParams[kind] = slices.Clone(specs)
	return nil
}

// Params returns the schema of a registered kind's own keys.
func Params(kind string) ([]params.Spec, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	p, ok := kindParams[kind]
	return slices.Clone(p), ok
}

// CheckParams reports the first key of cfg its kind does not take, or the first value of the
// wrong type or out of its range.
func CheckParams(cfg Config) error {
	specs, ok := Params(cfg.Kind)
	if !ok {
		return fmt.Errorf("load: dataset %q: unknown kind %q (known: %s)", cfg.Name, cfg.Kind, strings.Join(Kinds(), ", "))
	}
	keys := make([]string, 0, len(cfg.Params))
	for k := range cfg.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var allowed []string
	for _, sp := range specs {
		allowed = append(allowed, sp.Name)
	}
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			takes := "no other keys"
			if len(allowed) > 0 {
				takes = "also: " + strings.Join(allowed, ", ")
			}
			return &UnknownParamError{Dataset: cfg.Name, Kind: cfg.Kind, Key: k, Takes: takes}
		}
	}
	if _, errs := params.Check(specs, cfg.Params); len(errs) > 0 {
		var pe *params.Error
		if errors.As(errs[0], &pe) {
			return &ParamError{Dataset: cfg.Name, Key: pe.Name, Err: errs[0]}
		}
		return fmt.Errorf("dataset %q: %w", cfg.Name, errs[0])
	}
	return nil
}

// ParamError is a value of a dataset key its kind declares with another type or range.
type ParamError struct {
	Dataset, Key string
	Err          error
}

// Error implements error.
func (e *ParamError) Error() string { return fmt.Sprintf("dataset %q: %v", e.Dataset, e.Err) }

// Unwrap returns the parameter error.
func (e *ParamError) Unwrap() error { return e.Err }

// UnknownParamError is a dataset key its kind does not take.
type UnknownParamError struct {
	Dataset, Kind, Key, Takes string
}

// Error implements error.
func (e *UnknownParamError) Error() string {
	return fmt.Sprintf("dataset %q: unknown key %q for %s %s dataset (it takes kind, path, labels, limit; %s)",
		e.Dataset, e.Key, article(e.Kind), e.Kind, e.Takes)
}

// article is "an" before a vowel, else "a".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// Kinds lists the registered dataset kinds, sorted.
func Kinds() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	kinds := make([]string, 0, len(registry))
	for k := range registry {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return kinds
}

// Open opens the dataset cfg describes with its kind's open function, then applies cfg.Limit.
func Open(cfg Config) (Dataset, error) {
	registryMu.RLock()
	open, ok := registry[cfg.Kind]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("load: dataset %q: unknown kind %q (known: %s)", cfg.Name, cfg.Kind, strings.Join(Kinds(), ", "))
	}
	if cfg.Limit < 0 {
		return nil, fmt.Errorf("load: dataset %q: limit %d is negative", cfg.Name, cfg.Limit)
	}
	if err := CheckParams(cfg); err != nil {
		return nil, err
	}
	ds, err := open(cfg)
	if err != nil {
		return nil, err
	}
	all := ds.Samples()
	if cfg.Limit == 0 || cfg.Limit >= len(all) {
		return ds, nil
	}
	return &subset{Dataset: ds, samples: pick(all, cfg.Limit, cfg.Seed)}, nil
}

// subset is a dataset restricted to some of its samples.
type subset struct {
	Dataset
	samples []Sample
}

// Samples implements Dataset.
func (s *subset) Samples() []Sample { return slices.Clone(s.samples) }

// pick draws n of the samples with a generator seeded by seed, keeps their order and renumbers them.
func pick(all []Sample, n int, seed uint64) []Sample {
	idx := make([]int, len(all))
	for i := range idx {
		idx[i] = i
	}
	r := rand.New(rand.NewPCG(seed, 0x7669737475647921)) // second word: a fixed stream id ("vistudy!")
	for i := range n {                                   // partial Fisher–Yates
		j := i + r.IntN(len(idx)-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	chosen := idx[:n]
	slices.Sort(chosen)
	out := make([]Sample, n)
	for i, k := range chosen {
		out[i] = all[k]
		out[i].Index = i
	}
	return out
}

// resolvePath joins a relative dataset path to the study folder.
func resolvePath(cfg Config) (string, error) {
	if cfg.Path == "" {
		return "", fmt.Errorf("load: dataset %q (%s): no path", cfg.Name, cfg.Kind)
	}
	p := cfg.Path
	if !filepath.IsAbs(p) {
		p = filepath.Join(cfg.BaseDir, p)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("load: dataset %q: path %s: %w", cfg.Name, cfg.Path, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("load: dataset %q (%s): %w", cfg.Name, cfg.Kind, err)
	}
	return abs, nil
}

// listRoot resolves the dataset folder and lists its visible sub-folders (symlinks followed) and image files.
func listRoot(cfg Config) (root string, dirs, images []string, err error) {
	if root, err = resolvePath(cfg); err != nil {
		return "", nil, nil, err
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return "", nil, nil, fmt.Errorf("load: dataset %q: %w", cfg.Name, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(root, e.Name())
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			dirs = append(dirs, e.Name())
		} else if isImageFile(e.Name()) {
			images = append(images, p)
		}
	}
	return root, dirs, images, nil
}

// labelSpace resolves cfg.Labels, or returns def when it is empty.
func labelSpace(cfg Config, def func() (*labels.Space, error)) (*labels.Space, error) {
	if cfg.Labels == "" {
		return def()
	}
	s, err := labels.Resolve(cfg.Labels, cfg.BaseDir)
	if err != nil {
		return nil, fmt.Errorf("load: dataset %q: %w", cfg.Name, err)
	}
	return s, nil
}

// fileDataset is a dataset of image files; the kinds differ only in how they list and label them.
type fileDataset struct {
	name, kind  string
	samples     []Sample
	space       *labels.Space
	cueConflict bool
}

// newFileDataset sorts samples by ID, numbers them and rejects duplicate IDs.
func newFileDataset(cfg Config, samples []Sample, space *labels.Space, cueConflict bool) (*fileDataset, error) {
	sort.Slice(samples, func(i, j int) bool { return samples[i].ID < samples[j].ID })
	for i := range samples {
		samples[i].Index = i
		if i > 0 && samples[i].ID == samples[i-1].ID {
			return nil, fmt.Errorf("load: dataset %q: sample %q is listed twice", cfg.Name, samples[i].ID)
		}
	}
	return &fileDataset{name: cfg.Name, kind: cfg.Kind, samples: samples, space: space, cueConflict: cueConflict}, nil
}

// Name implements Dataset.
func (d *fileDataset) Name() string { return d.name }

// Kind implements Dataset.
func (d *fileDataset) Kind() string { return d.kind }

// Samples implements Dataset.
func (d *fileDataset) Samples() []Sample { return slices.Clone(d.samples) }

// Labels implements Dataset.
func (d *fileDataset) Labels() *labels.Space { return d.space }

// CueConflict implements Dataset.
func (d *fileDataset) CueConflict() bool { return d.cueConflict }

// Image implements Dataset by decoding the sample's file.
func (d *fileDataset) Image(s Sample) (image.Image, error) {
	if s.Path == "" {
		return nil, fmt.Errorf("load: sample %q of dataset %q has no file path", s.ID, d.name)
	}
	return Decode(s.Path)
}

// imageExtensions are torchvision's IMG_EXTENSIONS: files with them are samples, others are ignored.
var imageExtensions = []string{".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}

// isImageFile reports whether name has an image extension (any case).
func isImageFile(name string) bool {
	return slices.Contains(imageExtensions, strings.ToLower(filepath.Ext(name)))
}

// sampleID is the dataset-relative path of file under root, with forward slashes.
func sampleID(root, file string) string {
	rel, err := filepath.Rel(root, file)
	if err != nil {
		return filepath.ToSlash(file)
	}
	return filepath.ToSlash(rel)
}

// plainSpace is a label space of the given names (ids = names), sorted.
func plainSpace(name string, classes []string) (*labels.Space, error) {
	classes = slices.Clone(classes)
	slices.SortFunc(classes, cmp.Compare[string])
	return labels.New(name, classes, classes)
}

// walkImages lists the image files below dir (recursively, following no symlinked folders), sorted.
func walkImages(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && p != dir && strings.HasPrefix(e.Name(), ".") {
			return filepath.SkipDir
		}
		if !e.IsDir() && isImageFile(e.Name()) && !strings.HasPrefix(e.Name(), ".") {
			files = append(files, p)
		}
		return nil
	})
	return files, err
}
