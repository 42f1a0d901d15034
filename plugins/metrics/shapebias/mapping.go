package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/vistudy/vistudy/plugins/sdk"
)

// The values of the mapping parameter other than a path to a .json file.
const (
	mappingAuto       = "auto"
	mappingImageNet16 = "imagenet16"
	mappingIdentity   = "identity"
)

// labelSpaceImageNet1k is the label space name under which auto picks imagenet16.
const labelSpaceImageNet1k = "imagenet1k"

// imagenet16JSON maps the 16 Geirhos categories to their ImageNet-1k indices (207 in all). It is
// derived from bethgelab/model-vs-human modelvshuman/helper/human_categories.py (MIT), via the
// project's shared imagenet16.json; the test checks the two agree.
//
//go:embed imagenet16.json
var imagenet16JSON []byte

// imagenet16 is the embedded mapping, parsed once.
var imagenet16 = sync.OnceValues(func() (categoryMap, error) {
	return parseMapping(imagenet16JSON, "embedded imagenet16.json")
})

// categoryMap says which model outputs make up each category. Categories are in decision order:
// an arg-max tie goes to the first.
type categoryMap struct {
	names   []string
	indices [][]int // model output indices per category
}

// parseMapping reads {category: [indices]} or the shared form {"categories": {category: [indices]}, ...}.
func parseMapping(data []byte, source string) (categoryMap, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return categoryMap{}, fmt.Errorf("mapping %s: want a JSON object {category: [model indices]}: %w", source, err)
	}
	body := data
	// A plain mapping's values are lists, so an object under "categories" marks the wrapped form.
	if raw, ok := top["categories"]; ok && bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		body = raw
	}
	var cats map[string][]int
	if err := json.Unmarshal(body, &cats); err != nil {
		return categoryMap{}, fmt.Errorf("mapping %s: want a JSON object {category: [model indices]}: %w", source, err)
	}
	if len(cats) == 0 {
		return categoryMap{}, fmt.Errorf("mapping %s: no categories", source)
	}
	var cm categoryMap
	for name := range cats {
		cm.names = append(cm.names, name)
	}
	sort.Strings(cm.names)
	for _, name := range cm.names {
		idx := cats[name]
		if len(idx) == 0 {
			return categoryMap{}, fmt.Errorf("mapping %s: category %q has no model indices", source, name)
		}
		seen := map[int]bool{}
		for _, i := range idx {
			if i < 0 {
				return categoryMap{}, fmt.Errorf("mapping %s: category %q has negative model index %d", source, name, i)
			}
			if seen[i] {
				return categoryMap{}, fmt.Errorf("mapping %s: category %q lists model index %d twice", source, name, i)
			}
			seen[i] = true
		}
		cm.indices = append(cm.indices, idx)
	}
	return cm, nil
}

// identityMap makes model class i the category of the same name.
func identityMap(classNames []string) (categoryMap, error) {
	if len(classNames) == 0 {
		return categoryMap{}, fmt.Errorf("mapping %q needs the model's class names, and the model context has none (is the model's `labels` set?)", mappingIdentity)
	}
	cm := categoryMap{names: slices.Clone(classNames)}
	seen := map[string]bool{}
	for i, n := range classNames {
		if seen[n] {
			return categoryMap{}, fmt.Errorf("mapping %q: the model has two classes named %q", mappingIdentity, n)
		}
		seen[n] = true
		cm.indices = append(cm.indices, []int{i})
	}
	return cm, nil
}

// loadMapping resolves the mapping parameter for model m.
func loadMapping(spec string, m sdk.Model) (categoryMap, error) {
	switch {
	case spec == mappingAuto:
		if m.LabelSpace == labelSpaceImageNet1k || m.NumClasses == 1000 {
			return imagenet16()
		}
		return identityMap(m.ClassNames)
	case spec == mappingImageNet16:
		return imagenet16()
	case spec == mappingIdentity:
		return identityMap(m.ClassNames)
	case strings.HasSuffix(strings.ToLower(spec), ".json"):
		data, err := os.ReadFile(spec)
		if err != nil {
			return categoryMap{}, fmt.Errorf("read mapping file: %w", err)
		}
		return parseMapping(data, spec)
	}
	return categoryMap{}, fmt.Errorf("mapping %q: want %s, %s, %s or a path to a .json file", spec, mappingAuto, mappingImageNet16, mappingIdentity)
}

// plan is a mapping bound to a dataset: categories matched to the dataset's by name.
type plan struct {
	categoryMap
	dataset   []string // the dataset's category names, by label index
	datasetOf []int32  // per mapping category: its dataset label index, -1 when the dataset lacks it
}

// bind matches every dataset category to a mapping category by name.
func bind(cm categoryMap, dataset []string) (plan, error) {
	if len(dataset) == 0 {
		return plan{}, fmt.Errorf("the model context carries no dataset category names (DatasetClasses): shape bias matches categories by name")
	}
	pos := map[string]int{}
	for i, n := range cm.names {
		pos[n] = i
	}
	p := plan{categoryMap: cm, dataset: dataset, datasetOf: make([]int32, len(cm.names))}
	for i := range p.datasetOf {
		p.datasetOf[i] = -1
	}
	var missing []string
	for d, n := range dataset {
		c, ok := pos[n]
		if !ok {
			missing = append(missing, n)
			continue
		}
		p.datasetOf[c] = int32(d)
	}
	if len(missing) > 0 {
		return plan{}, fmt.Errorf("dataset categories %s are not in the mapping (it has: %s)",
			quoteAll(missing), strings.Join(cm.names, ", "))
	}
	return p, nil
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// checkWidth checks that every mapped index exists among k model outputs.
func (cm categoryMap) checkWidth(k int) error {
	for c, idx := range cm.indices {
		for _, i := range idx {
			if i >= k {
				return fmt.Errorf("mapping category %q uses model index %d, but the model has %d outputs", cm.names[c], i, k)
			}
		}
	}
	return nil
}

// newPlan resolves and binds the mapping parameter for model m.
func newPlan(spec string, m sdk.Model) (plan, error) {
	cm, err := loadMapping(spec, m)
	if err != nil {
		return plan{}, err
	}
	if m.NumClasses > 0 {
		if err := cm.checkWidth(m.NumClasses); err != nil {
			return plan{}, err
		}
	}
	return bind(cm, m.DatasetClasses)
}
