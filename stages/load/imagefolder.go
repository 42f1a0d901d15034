package load

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/vistudy/vistudy/plugins/params"

	"github.com/vistudy/vistudy/stages/labels"
)

// KindImageFolder is the dataset kind of a folder of images labelled by sub-folder or file name.
const KindImageFolder = "imagefolder"

// ParamLabelPattern is an imagefolder parameter: a regexp whose one group takes a flat folder's label from the file name.
const ParamLabelPattern = "label_pattern"

// wordNetPrefix takes the WordNet id at the start of a flat folder's file names (n01440764_tench.JPEG).
var wordNetPrefix = regexp.MustCompile(`^(n\d{8})`)

func init() {
	if err := Register(KindImageFolder, openImageFolder, params.Spec{Name: ParamLabelPattern, Type: params.String,
		Description: "a regexp whose capture group gives the label index or class name from the file name"}); err != nil {
		panic(err)
	}
}

// openImageFolder lists class sub-folders (torchvision ImageFolder) or, when the folder holds the images
// themselves, a flat folder labelled by file name.
func openImageFolder(cfg Config) (Dataset, error) {
	root, classes, flat, err := listRoot(cfg)
	if err != nil {
		return nil, err
	}
	pattern, err := labelPattern(cfg)
	if err != nil {
		return nil, err
	}
	switch {
	case len(classes) > 0 && len(flat) > 0:
		return nil, fmt.Errorf("load: dataset %q: %s mixes class sub-folders (%s, ...) with images at its top (%s, ...); use one layout",
			cfg.Name, root, classes[0], filepath.Base(flat[0]))
	case len(classes) > 0:
		if pattern != nil {
			return nil, fmt.Errorf("load: dataset %q: %s applies to a flat folder, but %s has class sub-folders", cfg.Name, ParamLabelPattern, root)
		}
		return classFolders(cfg, root, classes)
	case len(flat) > 0:
		return flatFolder(cfg, root, flat, pattern)
	}
	return nil, fmt.Errorf("load: dataset %q: %s holds no images (extensions %s)", cfg.Name, root, strings.Join(imageExtensions, " "))
}

// labelPattern compiles the label_pattern parameter, if given.
func labelPattern(cfg Config) (*regexp.Regexp, error) {
	v, ok := cfg.Params[ParamLabelPattern]
	if !ok {
		return nil, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("load: dataset %q: %s must be a string, got %T", cfg.Name, ParamLabelPattern, v)
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("load: dataset %q: %s: %w", cfg.Name, ParamLabelPattern, err)
	}
	if re.NumSubexp() != 1 {
		return nil, fmt.Errorf("load: dataset %q: %s %q must have exactly one capture group, has %d", cfg.Name, ParamLabelPattern, s, re.NumSubexp())
	}
	return re, nil
}

// classFolders labels each image by its top-level folder: the folder's index among the sorted folder
// names, or, with cfg.Labels, the class whose id or name the folder is called.
func classFolders(cfg Config, root string, classes []string) (Dataset, error) {
	space, err := labelSpace(cfg, func() (*labels.Space, error) { return plainSpace(root, classes) })
	if err != nil {
		return nil, err
	}
	var samples []Sample
	for _, c := range classes {
		label, ok := space.Index(c)
		if !ok {
			return nil, fmt.Errorf("load: dataset %q: class folder %q is not a class of label space %s", cfg.Name, c, space.Name)
		}
		files, err := walkImages(filepath.Join(root, c))
		if err != nil {
			return nil, fmt.Errorf("load: dataset %q: list %s: %w", cfg.Name, filepath.Join(root, c), err)
		}
		for _, f := range files {
			samples = append(samples, fileSample(root, f, label, space))
		}
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("load: dataset %q: the class folders of %s hold no images", cfg.Name, root)
	}
	ds, err := newFileDataset(cfg, samples, space, false)
	if err != nil {
		return nil, err
	}
	return ds, nil
}

// flatFolder labels each image from its file name: the pattern's capture (index or class), or a leading
// WordNet id; the label space defaults to imagenet1k.
func flatFolder(cfg Config, root string, files []string, pattern *regexp.Regexp) (Dataset, error) {
	space, err := labelSpace(cfg, func() (*labels.Space, error) {
		s, _ := labels.Builtin(labels.ImageNet1k)
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	re, what := wordNetPrefix, "start with a WordNet id (n01440764_tench.JPEG)"
	if pattern != nil {
		re, what = pattern, fmt.Sprintf("match %s %q", ParamLabelPattern, pattern)
	}
	samples := make([]Sample, 0, len(files))
	for _, f := range files {
		name := filepath.Base(f)
		m := re.FindStringSubmatch(name)
		if m == nil {
			return nil, fmt.Errorf("load: dataset %q: file %s does not %s, so it has no label", cfg.Name, f, what)
		}
		label, err := classOf(space, m[1])
		if err != nil {
			return nil, fmt.Errorf("load: dataset %q: file %s: %w", cfg.Name, f, err)
		}
		samples = append(samples, fileSample(root, f, label, space))
	}
	ds, err := newFileDataset(cfg, samples, space, false)
	if err != nil {
		return nil, err
	}
	return ds, nil
}

// classOf reads a label: a non-negative integer is a class index, anything else a class id or name.
func classOf(space *labels.Space, v string) (int, error) {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 && strings.TrimLeft(v, "0123456789") == "" {
		if n >= space.Len() {
			return 0, fmt.Errorf("label index %d is out of range: label space %s has %d classes", n, space.Name, space.Len())
		}
		return n, nil
	}
	i, ok := space.Index(v)
	if !ok {
		return 0, fmt.Errorf("label %q is not a class id or (unambiguous) name of label space %s", v, space.Name)
	}
	return i, nil
}

// fileSample is the sample of an image file with a known label.
func fileSample(root, file string, label int, space *labels.Space) Sample {
	return Sample{ID: sampleID(root, file), Path: file, Label: int32(label), LabelName: space.ClassName(label), Shape: -1, Texture: -1}
}
