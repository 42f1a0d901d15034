package load

import (
	"fmt"
	"path/filepath"
	"regexp"

	"github.com/vistudy/vistudy/stages/labels"
)

// KindCueConflict is the kind of Geirhos et al.'s stimuli: <shape>/<shape><i>-<texture><j>.png or <category>/<category><n>.png.
const KindCueConflict = "cue-conflict"

var (
	cueConflictName = regexp.MustCompile(`^([^\d-]+)(\d+)-([^\d-]+)(\d+)\.[^.]+$`)
	cueCategoryName = regexp.MustCompile(`^([^\d-]+)(\d+)\.[^.]+$`)
)

func init() {
	if err := Register(KindCueConflict, openCueConflict); err != nil {
		panic(err)
	}
}

// openCueConflict labels each image by its shape (the folder); Shape and Texture are indices in the
// sorted category folders, or in cfg.Labels when given.
func openCueConflict(cfg Config) (Dataset, error) {
	root, categories, _, err := listRoot(cfg)
	if err != nil {
		return nil, err
	}
	if len(categories) == 0 {
		return nil, fmt.Errorf("load: dataset %q: %s has no category folders (<shape>/<shape><i>-<texture><j>.png)", cfg.Name, root)
	}
	space, err := labelSpace(cfg, func() (*labels.Space, error) { return plainSpace(root, categories) })
	if err != nil {
		return nil, err
	}
	category := func(name, file string) (int32, error) {
		i, ok := space.Index(name)
		if !ok {
			return 0, fmt.Errorf("load: dataset %q: %s: category %q is not a class of label space %s", cfg.Name, file, name, space.Name)
		}
		return int32(i), nil
	}
	var samples []Sample
	for _, c := range categories {
		shape, err := category(c, filepath.Join(root, c))
		if err != nil {
			return nil, err
		}
		files, err := walkImages(filepath.Join(root, c))
		if err != nil {
			return nil, fmt.Errorf("load: dataset %q: list %s: %w", cfg.Name, filepath.Join(root, c), err)
		}
		for _, f := range files {
			s := fileSample(root, f, int(shape), space)
			s.Shape = shape
			name := filepath.Base(f)
			if m := cueConflictName.FindStringSubmatch(name); m != nil {
				if m[1] != c {
					return nil, fmt.Errorf("load: dataset %q: %s: shape %q in the file name differs from its folder %q", cfg.Name, f, m[1], c)
				}
				if s.Texture, err = category(m[3], f); err != nil {
					return nil, err
				}
			} else if m := cueCategoryName.FindStringSubmatch(name); m == nil || m[1] != c {
				return nil, fmt.Errorf("load: dataset %q: %s: want <shape><i>-<texture><j> or %s<n> as the file name", cfg.Name, f, c)
			}
			samples = append(samples, s)
		}
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("load: dataset %q: the category folders of %s hold no images", cfg.Name, root)
	}
	ds, err := newFileDataset(cfg, samples, space, true)
	if err != nil {
		return nil, err
	}
	return ds, nil
}
