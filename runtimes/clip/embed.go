package clip

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
)

// TextEncoder runs a CLIP text encoder: token ids [N][context] in, embeddings [N][D] out.
type TextEncoder interface {
	Encode(ctx context.Context, tokens [][]int64) ([][]float32, error)
}

// The logit scale of CLIP's zero-shot classifier (exp of the learnt temperature, clamped to 100).
const DefaultLogitScale = 100

// Templates CLIP's code and papers use besides the 80 of imagenet_prompts.json.
const (
	BareTemplate   = "{}"               // the class name alone
	SingleTemplate = "a photo of a {}." // CLIP's single default prompt
	Placeholder    = "{}"               // where a template takes the class name
	encodeBatch    = 256                // prompts per TextEncoder call
)

// ErrTemplate marks a template that does not hold exactly one "{}" and no other brace.
var ErrTemplate = errors.New("template must hold exactly one {} and no other brace")

// CheckTemplates checks every template; the error names the first bad one by index and text.
func CheckTemplates(templates []string) error {
	if len(templates) == 0 {
		return fmt.Errorf("templates: %w: none given", ErrTemplate)
	}
	for i, t := range templates {
		if strings.Count(t, Placeholder) != 1 || strings.Count(t, "{") != 1 || strings.Count(t, "}") != 1 {
			return fmt.Errorf("templates[%d] %q: %w", i, t, ErrTemplate)
		}
	}
	return nil
}

// Fill puts class into template's "{}" (Python's template.format(class) for a checked template).
func Fill(template, class string) string { return strings.Replace(template, Placeholder, class, 1) }

// ClassEmbeddings returns one unit vector per class: the mean of the L2-normalised text embeddings of
// the class name in every template, normalised again (CLIP's zero-shot classifier weights).
func ClassEmbeddings(ctx context.Context, tok Tokens, enc TextEncoder, classes, templates []string) ([][]float32, error) {
	if err := CheckTemplates(templates); err != nil {
		return nil, fmt.Errorf("class embeddings: %w", err)
	}
	if len(classes) == 0 {
		return nil, errors.New("class embeddings: no class names")
	}
	prompts := make([]string, 0, len(classes)*len(templates))
	for _, c := range classes {
		if strings.TrimSpace(c) == "" {
			return nil, fmt.Errorf("class embeddings: empty class name after %d names", len(prompts)/len(templates))
		}
		for _, t := range templates {
			prompts = append(prompts, Fill(t, c))
		}
	}
	out := make([][]float32, len(classes))
	sums := make([][]float64, len(classes))
	for start := 0; start < len(prompts); start += encodeBatch {
		end := min(start+encodeBatch, len(prompts))
		tokens, err := tok.TokenizeAll(prompts[start:end], ContextLength)
		if err != nil {
			return nil, fmt.Errorf("class embeddings: %w", err)
		}
		embs, err := enc.Encode(ctx, tokens)
		if err != nil {
			return nil, fmt.Errorf("class embeddings: encode prompts %d–%d (%q…): %w", start, end-1, prompts[start], err)
		}
		if len(embs) != end-start {
			return nil, fmt.Errorf("class embeddings: text encoder returned %d embeddings for %d prompts", len(embs), end-start)
		}
		for k, e := range embs {
			i := (start + k) / len(templates)
			u, err := Normalize(e)
			if err != nil {
				return nil, fmt.Errorf("class embeddings: prompt %q: %w", prompts[start+k], err)
			}
			if sums[i] == nil {
				sums[i] = make([]float64, len(u))
			}
			if len(u) != len(sums[i]) || len(u) != len(sums[0]) {
				return nil, fmt.Errorf("class embeddings: prompt %q: embedding size %d, earlier %d", prompts[start+k], len(u), len(sums[0]))
			}
			for j, v := range u {
				sums[i][j] += float64(v)
			}
		}
	}
	for i, s := range sums {
		u, err := normalize64(s)
		if err != nil {
			return nil, fmt.Errorf("class embeddings: class %q: the template embeddings cancel out: %w", classes[i], err)
		}
		out[i] = u
	}
	return out, nil
}

// ErrZeroVector is returned for an embedding that cannot be normalised.
var ErrZeroVector = errors.New("zero or non-finite embedding")

// Normalize returns v / ‖v‖₂.
func Normalize(v []float32) ([]float32, error) {
	s := make([]float64, len(v))
	for i, x := range v {
		s[i] = float64(x)
	}
	return normalize64(s)
}

func normalize64(v []float64) ([]float32, error) {
	var ss float64
	for _, x := range v {
		ss += x * x
	}
	n := math.Sqrt(ss)
	if len(v) == 0 || n == 0 || math.IsNaN(n) || math.IsInf(n, 0) {
		return nil, ErrZeroVector
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x / n)
	}
	return out, nil
}

// Logits returns the zero-shot logits of one image embedding: scale · cos(image, class) for every
// class embedding (unit vectors, as ClassEmbeddings returns them).
func Logits(image []float32, classes [][]float32, scale float32) ([]float32, error) {
	u, err := Normalize(image)
	if err != nil {
		return nil, fmt.Errorf("zero-shot logits: image embedding: %w", err)
	}
	out := make([]float32, len(classes))
	for k, c := range classes {
		if len(c) != len(u) {
			return nil, fmt.Errorf("zero-shot logits: image embedding size %d, class %d embedding size %d", len(u), k, len(c))
		}
		var dot float64
		for j := range u {
			dot += float64(u[j]) * float64(c[j])
		}
		out[k] = scale * float32(dot)
	}
	return out, nil
}

// Prompts is imagenet_prompts.json: the 1000 ImageNet class names and CLIP's 80 ImageNet templates.
type Prompts struct {
	Source    string   `json:"source"`
	Classes   []string `json:"classes"`
	Templates []string `json:"templates"`
}

// LoadPrompts reads and checks a prompts file (classes and templates).
func LoadPrompts(path string) (*Prompts, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("prompts: %w", err)
	}
	var p Prompts
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("prompts %s: %w", path, err)
	}
	if len(p.Classes) == 0 {
		return nil, fmt.Errorf("prompts %s: no classes", path)
	}
	if err := CheckTemplates(p.Templates); err != nil {
		return nil, fmt.Errorf("prompts %s: %w", path, err)
	}
	return &p, nil
}

// Categories maps a fine label space onto coarse categories, as model-vs-human maps the 1000
// ImageNet classes onto the 16 cue-conflict categories: a category's probability is the mean of the
// softmax probabilities over its classes.
type Categories struct {
	Names   []string // category names, in the order of the aggregated logits
	Indices [][]int  // the fine classes of each category
}

// LoadCategories reads imagenet16.json ({"categories": {name: [index, ...]}}), categories sorted by
// name, and checks the indices against the fine label-space size n.
func LoadCategories(path string, n int) (*Categories, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("categories: %w", err)
	}
	var f struct {
		Categories map[string][]int `json:"categories"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("categories %s: %w", path, err)
	}
	if len(f.Categories) == 0 {
		return nil, fmt.Errorf("categories %s: no \"categories\"", path)
	}
	c := &Categories{}
	for name := range f.Categories {
		c.Names = append(c.Names, name)
	}
	slices.Sort(c.Names)
	for _, name := range c.Names {
		idx := f.Categories[name]
		if len(idx) == 0 {
			return nil, fmt.Errorf("categories %s: %q has no classes", path, name)
		}
		for _, i := range idx {
			if i < 0 || i >= n {
				return nil, fmt.Errorf("categories %s: %q: class index %d outside [0, %d)", path, name, i, n)
			}
		}
		c.Indices = append(c.Indices, idx)
	}
	return c, nil
}

// Aggregate turns fine logits into category log-probabilities: ln of the mean, over each category's
// classes, of softmax(fine) (model-vs-human's decision rule; the arg-max is the decision).
func (c *Categories) Aggregate(fine []float32) ([]float32, error) {
	maxv := math.Inf(-1)
	for _, v := range fine {
		maxv = math.Max(maxv, float64(v))
	}
	var z float64
	for _, v := range fine {
		z += math.Exp(float64(v) - maxv)
	}
	out := make([]float32, len(c.Indices))
	for k, idx := range c.Indices {
		var s float64
		for _, i := range idx {
			if i >= len(fine) {
				return nil, fmt.Errorf("aggregate categories: %q needs class %d of %d logits", c.Names[k], i, len(fine))
			}
			s += math.Exp(float64(fine[i]) - maxv)
		}
		out[k] = float32(math.Log(s / z / float64(len(idx))))
	}
	return out, nil
}
