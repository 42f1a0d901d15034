package clip

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Names of the template sets a study can ask for instead of a list of templates.
const (
	TemplatesImageNet80 = "imagenet80" // CLIP's 80 ImageNet templates (the prompts file)
	TemplatesSingle     = "single"     // SingleTemplate
	TemplatesBare       = "bare"       // BareTemplate
)

// Names of the class-name options of a zero-shot model.
const (
	ClassesLabels     = "labels"     // the label space's names, each a class prompt
	ClassesImageNet16 = "imagenet16" // the 1000 ImageNet names, aggregated into 16 categories
)

// TemplateSet resolves a template-set name; p (the prompts file) is needed only for imagenet80.
func TemplateSet(name string, p *Prompts) ([]string, error) {
	switch name {
	case TemplatesImageNet80:
		if p == nil {
			return nil, fmt.Errorf("templates %q: no prompts file", name)
		}
		return slices.Clone(p.Templates), nil
	case TemplatesSingle:
		return []string{SingleTemplate}, nil
	case TemplatesBare:
		return []string{BareTemplate}, nil
	}
	return nil, fmt.Errorf("templates %q: not a template set (%s, %s, %s) — give a list of templates with {} instead",
		name, TemplatesImageNet80, TemplatesSingle, TemplatesBare)
}

// ZeroShot turns image embeddings into class logits: scale · cosine with each class embedding,
// then, with Categories set, the category log-probabilities of Categories.Aggregate.
type ZeroShot struct {
	Classes    [][]float32 // unit class embeddings (ClassEmbeddings)
	Scale      float32     // logit scale (DefaultLogitScale for CLIP)
	Categories *Categories // nil: the logits are per class
}

// Logits returns the logits of one image embedding.
func (z *ZeroShot) Logits(image []float32) ([]float32, error) {
	l, err := Logits(image, z.Classes, z.Scale)
	if err != nil || z.Categories == nil {
		return l, err
	}
	return z.Categories.Aggregate(l)
}

// EmbeddingsKey identifies a set of class embeddings: the text encoder (its file's SHA-256), the
// class names and the templates. A run keeps embeddings under this key so it computes them once.
func EmbeddingsKey(textEncoderSHA256 string, classes, templates []string) string {
	b, _ := json.Marshal(struct {
		Encoder   string
		Classes   []string
		Templates []string
	}{textEncoderSHA256, classes, templates})
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// embeddingsFile is the JSON form of saved class embeddings (float32 values round-trip exactly).
type embeddingsFile struct {
	Key        string      `json:"key"`
	Classes    []string    `json:"classes"`
	Templates  []string    `json:"templates"`
	Embeddings [][]float32 `json:"embeddings"`
}

// SaveEmbeddings writes class embeddings to path atomically (a temporary file renamed into place).
func SaveEmbeddings(path, key string, classes, templates []string, embs [][]float32) error {
	if len(embs) != len(classes) {
		return fmt.Errorf("save class embeddings %s: %d embeddings for %d classes", path, len(embs), len(classes))
	}
	b, err := json.Marshal(embeddingsFile{key, classes, templates, embs})
	if err != nil {
		return fmt.Errorf("save class embeddings %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".embeddings-*")
	if err != nil {
		return fmt.Errorf("save class embeddings %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("save class embeddings %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save class embeddings %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save class embeddings %s: %w", path, err)
	}
	return nil
}

// LoadEmbeddings reads class embeddings saved under key; ok is false when the file is absent or
// holds another key (then compute and save them again).
func LoadEmbeddings(path, key string) (embs [][]float32, ok bool, err error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("load class embeddings: %w", err)
	}
	var f embeddingsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, false, fmt.Errorf("load class embeddings %s: %w", path, err)
	}
	if f.Key != key {
		return nil, false, nil
	}
	if len(f.Embeddings) != len(f.Classes) {
		return nil, false, fmt.Errorf("load class embeddings %s: %d embeddings for %d classes", path, len(f.Embeddings), len(f.Classes))
	}
	return f.Embeddings, true, nil
}
