package pipeline

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/stages/labels"
)

// LabelMap maps a dataset's classes onto a model's outputs: dataset class i is model output
// ToModel[i]. Class folders named by WordNet id (ImageNet-R, -A ship a subset of ImageNet's
// classes) and manifests of class names map by id or name; the sorted folder index would be
// compared with the model's index otherwise.
type LabelMap struct {
	Dataset, Model string // the two label spaces
	By             string // "identity", "id" (WordNet id or class id) or "name"
	ToModel        []int32
	Unmapped       []string // dataset classes with no single model class of that id or name
}

// Identity reports whether dataset labels are already model labels.
func (l *LabelMap) Identity() bool { return l.By == "identity" }

// OK reports whether every dataset class maps onto one model class.
func (l *LabelMap) OK() bool { return len(l.Unmapped) == 0 }

// Problem is the sentence for a map that is not OK.
func (l *LabelMap) Problem() string {
	ex := l.Unmapped[:min(3, len(l.Unmapped))]
	return fmt.Sprintf("the dataset's label space %s (%d classes) does not map onto the model's label space %s: %d classes match no single model class by id or name (e.g. %s); give the dataset `labels:` in the model's space, or a class file whose names the model's space has",
		l.Dataset, len(l.ToModel), l.Model, len(l.Unmapped), strings.Join(ex, ", "))
}

// newLabelMap maps dataset space ds onto model space ms.
func newLabelMap(ds, ms *labels.Space) *LabelMap {
	lm := &LabelMap{Dataset: ds.Name, Model: ms.Name, ToModel: make([]int32, ds.Len())}
	if ds.Name == ms.Name || slices.Equal(ds.IDs, ms.IDs) {
		lm.By = "identity"
		for i := range lm.ToModel {
			lm.ToModel[i] = int32(i)
		}
		return lm
	}
	byID := true
	for i := range ds.Len() {
		j, ok := -1, false
		if k, found := ms.Index(ds.ClassID(i)); found && ms.ClassID(k) == ds.ClassID(i) {
			j, ok = k, true
		} else if k, found := ms.Index(ds.ClassName(i)); found {
			j, ok, byID = k, true, false
		}
		if !ok {
			lm.Unmapped = append(lm.Unmapped, ds.ClassID(i))
			j = -1
		}
		lm.ToModel[i] = int32(j)
	}
	lm.By = "id"
	if !byID {
		lm.By = "name"
	}
	return lm
}

// labelSpaced is a Source that tells its dataset's label space.
type labelSpaced interface {
	LabelSpace() *labels.Space
}

// LabelMap returns the map from the labels of in's dataset to in's model (nil when in has no
// model or no source, or the source tells no label space).
func (p *Plan) LabelMap(in *Instance) (*LabelMap, error) {
	if in.Model == nil || in.Root == nil {
		return nil, nil
	}
	st, err := p.State(in.Root)
	if err != nil {
		return nil, err
	}
	ls, ok := st.(labelSpaced)
	if !ok {
		return nil, nil
	}
	ms, err := labelSpace(in.Model.Labels, p.Study.Dir)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", in.Model.Name, err)
	}
	return newLabelMap(ls.LabelSpace(), ms), nil
}

// comparesLabels reports whether in's plugin compares the label column with the model's
// outputs (it requires the column and sees a model).
func comparesLabels(in *Instance) bool {
	return in.Model != nil && in.Plugin != nil && slices.Contains(in.Plugin.Info.Requires, arrowio.ColLabel)
}

// checkLabels reports, for every instance that compares labels with a model's outputs, a
// dataset whose classes do not map onto the model's (and attacks on remapped labels, which the
// oracle would misread).
func (p *Plan) checkLabels() error {
	var probs Problems
	seen := map[string]bool{}
	for _, in := range p.Instances {
		if !comparesLabels(in) && !(specOf(in.Stage).PerModel && specOf(in.Stage).reads(Images) && in.Root != nil && specOf(in.Stage).Produces != Predictions) {
			continue
		}
		lm, err := p.LabelMap(in)
		if err != nil || lm == nil {
			continue
		}
		key := in.Stage.ID + "\x00" + in.Model.Name + "\x00" + in.Root.Dataset.Name
		if seen[key] {
			continue
		}
		seen[key] = true
		switch {
		case !lm.OK():
			probs.add(in.Root.Dataset.Pos(""), "stage %q, model %q, dataset %q: %s", in.Stage.ID, in.Model.Name, in.Root.Dataset.Name, lm.Problem())
		case !lm.Identity() && specOf(in.Stage).Produces == Images:
			probs.add(in.Root.Dataset.Pos(""), "stage %q attacks model %q on dataset %q, whose labels (%s) are not the model's (%s): give the dataset `labels: %s` so that the attack sees the model's classes",
				in.Stage.ID, in.Model.Name, in.Root.Dataset.Name, lm.Dataset, lm.Model, in.Model.Labels)
		}
	}
	return probs.err()
}
