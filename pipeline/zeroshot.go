package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"gopkg.in/yaml.v3"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/host"
	"github.com/vistudy/vistudy/plugins/sdk"
	"github.com/vistudy/vistudy/runtimes/clip"
	"github.com/vistudy/vistudy/runtimes/onnx"
)

// Keys of a model's zero_shot block, shared by the parser and the schema.
const (
	keyZeroShot    = "zero_shot"
	zsImage        = "image"
	zsText         = "text"
	zsFile         = "file"
	zsImageInput   = "image_input"
	zsImageOutput  = "image_output"
	zsTextInput    = "text_input"
	zsTextOutput   = "text_output"
	zsMerges       = "merges"
	zsTokens       = "tokens"
	zsLogitScale   = "logit_scale"
	zsClasses      = "classes"
	zsPromptsFile  = "prompts_file"
	zsCategories   = "categories"
	zsPrompts      = "prompts"
	zeroShotDir    = "zeroshot" // run-directory folder of class embeddings and composed models
	variantSep     = "@"        // a variant's model name: <model>@<variant>
	textGraphName  = "text.onnx"
	composedSuffix = ".onnx"
	embeddingsExt  = ".embeddings.json"
)

// zeroShotSection is the schema of a model's zero_shot block.
var zeroShotSection = Section{Path: "models.<name>.zero_shot", Doc: "a zero-shot (CLIP-style) dual encoder instead of `path` (docs/zeroshot.md); each prompt variant v becomes the model <name>@v", Keys: []Key{
	{Name: zsImage, Type: "path", Doc: "image encoder ONNX, float [N,3,H,W] → [N,D] (or `file`)"},
	{Name: zsText, Type: "path", Doc: "text encoder ONNX, int64 token ids [N,77] → [N,D] (or `file`)"},
	{Name: zsFile, Type: "path", Doc: "one ONNX file holding both towers, with the four tensor names below"},
	{Name: zsImageInput, Type: "string", Doc: "with `file`: the image input (pixel_values)"},
	{Name: zsImageOutput, Type: "string", Doc: "with `file`: the image embedding output (image_embeds)"},
	{Name: zsTextInput, Type: "string", Doc: "with `file`: the token-id input (input_ids)"},
	{Name: zsTextOutput, Type: "string", Doc: "with `file`: the text embedding output (text_embeds)"},
	{Name: zsMerges, Type: "path", Default: "required unless tokens", Doc: "CLIP's BPE merges file, bpe_simple_vocab_16e6.txt.gz"},
	{Name: zsTokens, Type: "path", Doc: "instead of merges: a token table (clip.TokenTable, made from the merges file by `go run ./zoo/clip/tokenize -table`) that holds every prompt"},
	{Name: zsLogitScale, Type: "number", Default: "100", Doc: "scale of the cosine logits (CLIP's 100; the model card gives its own)"},
	{Name: zsClasses, Type: "string", Default: "labels", Doc: "class prompts: labels (the label space's names) or imagenet16 (the 1000 ImageNet names of prompts_file, softmax averaged into the categories)"},
	{Name: zsPromptsFile, Type: "path", Doc: "imagenet_prompts.json: the 1000 ImageNet names and CLIP's 80 templates (for imagenet80 and imagenet16)"},
	{Name: zsCategories, Type: "path", Doc: "imagenet16.json: the categories of classes: imagenet16 (their sorted names must be the model's label space)"},
	{Name: zsPrompts, Type: "mapping", Doc: "variant name → templates: imagenet80, single, bare, or a list of templates with one {} each", Required: true},
}}

// ZeroShot is one prompt variant of a zero-shot (CLIP-style) model: the encoders, the tokenizer's
// merges (or a token table), the class names and the templates whose class embeddings make the image encoder a
// classifier. Before any stage runs, PrepareZeroShot writes that classifier to the model's Path.
type ZeroShot struct {
	Model       string // the model's name in the study file (the variant's Model.Name is Model@Variant)
	Variant     string // the prompt variant
	Image, Text string // encoder files (absolute; both File in the one-file form)
	File        string // the one-file form's file ("" for two files)
	ImageInput  string // one-file form: tensor names
	ImageOutput string
	TextInput   string
	TextOutput  string
	Merges      string  // absolute ("" when Tokens is given)
	Tokens      string  // absolute token table ("" when Merges is given)
	LogitScale  float64 // default clip.DefaultLogitScale
	Classes     string  // clip.ClassesLabels or clip.ClassesImageNet16
	PromptsFile string  // absolute ("" when not given)
	Categories  string  // absolute ("" when not given)
	TemplateSet string  // imagenet80, single or bare; "" when Templates were listed
	Templates   []string
	pos         map[string]Pos
}

// Pos returns where key of the zero_shot block was written ("prompts.<variant>" for a variant).
func (z *ZeroShot) Pos(key string) Pos { return z.pos[key] }

// dir is the run-directory folder of the model's class embeddings and composed classifiers.
func (z *ZeroShot) dir(s *Study) string { return filepath.Join(s.Output, zeroShotDir) }

// EmbeddingsPath is where the variant's class embeddings are kept in the run directory.
func (z *ZeroShot) EmbeddingsPath(s *Study) string {
	return filepath.Join(z.dir(s), z.Model+variantSep+z.Variant+embeddingsExt)
}

// parseZeroShot reads a zero_shot block into the variants it declares (their order is the
// prompts mapping's).
func (s *Study) parseZeroShot(d *decoder, n *yaml.Node, what string, base Pos) []*ZeroShot {
	z := ZeroShot{LogitScale: clip.DefaultLogitScale, Classes: clip.ClassesLabels, pos: map[string]Pos{"": base}}
	what += " zero_shot"
	type variant struct {
		name      string
		set       string
		templates []string
		pos       Pos
	}
	var variants []variant
	for _, f := range d.fields(n, what, zeroShotSection.names()) {
		z.pos[f.key] = d.pos(f.keyN)
		switch f.key {
		case zsImage:
			z.Image = s.abs(d.str(f.value, what+" image"))
		case zsText:
			z.Text = s.abs(d.str(f.value, what+" text"))
		case zsFile:
			z.File = s.abs(d.str(f.value, what+" file"))
		case zsImageInput:
			z.ImageInput = d.str(f.value, what+" image_input")
		case zsImageOutput:
			z.ImageOutput = d.str(f.value, what+" image_output")
		case zsTextInput:
			z.TextInput = d.str(f.value, what+" text_input")
		case zsTextOutput:
			z.TextOutput = d.str(f.value, what+" text_output")
		case zsMerges:
			z.Merges = s.abs(d.str(f.value, what+" merges"))
		case zsTokens:
			z.Tokens = s.abs(d.str(f.value, what+" tokens"))
		case zsLogitScale:
			z.LogitScale = d.float(f.value, what+" logit_scale")
			if z.LogitScale <= 0 {
				d.problem(f.value, "%s logit_scale must be positive, found %g", what, z.LogitScale)
			}
		case zsClasses:
			z.Classes = d.str(f.value, what+" classes")
			if z.Classes != clip.ClassesLabels && z.Classes != clip.ClassesImageNet16 {
				d.problem(f.value, "%s classes must be %s or %s, found %q", what, clip.ClassesLabels, clip.ClassesImageNet16, z.Classes)
			}
		case zsPromptsFile:
			z.PromptsFile = s.abs(d.str(f.value, what+" prompts_file"))
		case zsCategories:
			z.Categories = s.abs(d.str(f.value, what+" categories"))
		case zsPrompts:
			for _, g := range d.fields(f.value, what+" prompts", nil) {
				v := variant{name: g.key, pos: d.pos(g.keyN)}
				vwhat := fmt.Sprintf("%s prompts.%s", what, g.key)
				if !validID.MatchString(g.key) {
					d.problem(g.keyN, "%s: a variant name may hold letters, digits, '_', '-', '.'", vwhat)
				}
				if g.value.Kind == yaml.SequenceNode {
					v.templates = d.strs(g.value, vwhat)
					if err := clip.CheckTemplates(v.templates); err != nil {
						d.problem(g.value, "%s: %v", vwhat, err)
					}
				} else {
					v.set = d.str(g.value, vwhat)
					if _, err := clip.TemplateSet(v.set, &clip.Prompts{Templates: []string{clip.SingleTemplate}}); err != nil {
						d.problem(g.value, "%s: %v", vwhat, err)
					}
				}
				variants = append(variants, v)
			}
			if len(variants) == 0 {
				d.problem(f.value, "%s prompts names no variant (give e.g. `neutral: single`)", what)
			}
		}
	}
	switch {
	case z.File == "" && (z.Image == "" || z.Text == ""):
		d.problem(n, "%s needs `image:` and `text:` (the two encoder files) or `file:` (one file with both)", what)
	case z.File != "" && (z.Image != "" || z.Text != ""):
		d.problem(n, "%s gives `file:` and `image:`/`text:`: give the two encoder files or the one file", what)
	case z.File != "":
		for _, k := range []string{zsImageInput, zsImageOutput, zsTextInput, zsTextOutput} {
			if _, ok := z.pos[k]; !ok {
				d.problem(n, "%s: with `file:`, `%s:` names the tensor (e.g. pixel_values, image_embeds, input_ids, text_embeds)", what, k)
			}
		}
		z.Image, z.Text = z.File, z.File
	}
	switch {
	case z.Merges == "" && z.Tokens == "":
		d.problem(n, "%s needs `merges:` (CLIP's bpe_simple_vocab_16e6.txt.gz) or `tokens:` (a token table of the prompts)", what)
	case z.Merges != "" && z.Tokens != "":
		d.problem(n, "%s gives `merges:` and `tokens:`: the token ids come from one of them", what)
	}
	if _, ok := z.pos[zsPrompts]; !ok {
		d.problem(n, "%s needs `prompts:` (variant name → imagenet80, single, bare or a list of templates)", what)
	}
	var out []*ZeroShot
	for _, v := range variants {
		zv := z
		zv.Variant, zv.TemplateSet, zv.Templates = v.name, v.set, v.templates
		zv.pos = map[string]Pos{}
		for k, p := range z.pos {
			zv.pos[k] = p
		}
		zv.pos[zsPrompts+"."+v.name] = v.pos
		out = append(out, &zv)
	}
	return out
}

// expandZeroShot turns a parsed zero-shot model into one model per prompt variant, named
// <model>@<variant>, whose Path is the composed classifier in the run directory.
func (s *Study) expandZeroShot(m *Model, variants []*ZeroShot) []*Model {
	if variants == nil {
		return []*Model{m}
	}
	out := make([]*Model, 0, len(variants))
	for _, z := range variants {
		v := *m
		z.Model = m.Name
		v.Name = m.Name + variantSep + z.Variant
		v.Path = filepath.Join(s.Output, zeroShotDir, v.Name+composedSuffix)
		v.ZeroShot = z
		if z.Classes == clip.ClassesImageNet16 {
			v.Output = "probabilities" // the mean softmax probability of each category's classes
		}
		v.pos = map[string]Pos{}
		for k, p := range m.pos {
			v.pos[k] = p
		}
		out = append(out, &v)
	}
	return out
}

// expandStageModels lets a stage's `models:` name a zero-shot model for all its variants.
func (s *Study) expandStageModels() {
	variants := map[string][]string{}
	for _, m := range s.Models {
		if m.ZeroShot != nil {
			variants[m.ZeroShot.Model] = append(variants[m.ZeroShot.Model], m.Name)
		}
	}
	if len(variants) == 0 {
		return
	}
	for _, st := range s.Stages {
		var out []string
		for _, name := range st.Models {
			if vs, ok := variants[name]; ok && s.model(name) == nil {
				out = append(out, vs...)
			} else {
				out = append(out, name)
			}
		}
		st.Models = out
	}
}

// templates resolves the variant's templates (a set name reads the prompts file for imagenet80).
func (z *ZeroShot) templates() ([]string, error) {
	if z.TemplateSet == "" {
		return z.Templates, clip.CheckTemplates(z.Templates)
	}
	var p *clip.Prompts
	if z.TemplateSet == clip.TemplatesImageNet80 {
		if z.PromptsFile == "" {
			return nil, fmt.Errorf("%s needs prompts_file (imagenet_prompts.json, CLIP's 80 templates)", clip.TemplatesImageNet80)
		}
		var err error
		if p, err = clip.LoadPrompts(z.PromptsFile); err != nil {
			return nil, err
		}
	}
	return clip.TemplateSet(z.TemplateSet, p)
}

// classNames returns the class prompts' names and, for imagenet16, the categories the scores are
// aggregated into (which must be the model's label space).
func (z *ZeroShot) classNames(m *Model, dir string) ([]string, *clip.Categories, error) {
	sp, err := labelSpace(m.Labels, dir)
	if err != nil {
		return nil, nil, fmt.Errorf("labels: %w", err)
	}
	if z.Classes != clip.ClassesImageNet16 {
		return slices.Clone(sp.Names), nil, nil
	}
	if z.PromptsFile == "" || z.Categories == "" {
		return nil, nil, fmt.Errorf("classes %s needs prompts_file (the 1000 ImageNet names) and categories (imagenet16.json)", clip.ClassesImageNet16)
	}
	p, err := clip.LoadPrompts(z.PromptsFile)
	if err != nil {
		return nil, nil, err
	}
	cats, err := clip.LoadCategories(z.Categories, len(p.Classes))
	if err != nil {
		return nil, nil, err
	}
	if !slices.Equal(cats.Names, sp.Names) {
		return nil, nil, fmt.Errorf("classes %s scores the categories %s (sorted), but the label space %s is %s",
			clip.ClassesImageNet16, strings.Join(cats.Names, ", "), m.Labels, strings.Join(sp.Names, ", "))
	}
	return p.Classes, cats, nil
}

// towers returns the image and text encoder graphs (in the one-file form, each tower cut out of
// the file); the caller closes both.
func (z *ZeroShot) towers() (image, text *onnx.Model, err error) {
	if image, err = onnx.Open(z.Image); err != nil {
		return nil, nil, err
	}
	if text, err = onnx.Open(z.Text); err != nil {
		image.Close()
		return nil, nil, err
	}
	if z.File != "" {
		if err = image.KeepPath(z.ImageInput, z.ImageOutput); err == nil {
			err = text.KeepPath(z.TextInput, z.TextOutput)
		}
		if err != nil {
			image.Close()
			text.Close()
			return nil, nil, fmt.Errorf("%s: %w", z.File, err)
		}
	}
	return image, text, nil
}

// inspect checks the two towers as clip.CheckEncoders does, naming the file.
func (z *ZeroShot) inspect() (img, txt *clip.Encoder, err error) {
	if z.File == "" {
		if img, err = clip.InspectImageEncoder(z.Image); err != nil {
			return nil, nil, err
		}
		if txt, err = clip.InspectTextEncoder(z.Text); err != nil {
			return nil, nil, err
		}
		return img, txt, clip.CheckPair(img, txt)
	}
	// One file: cut each tower out into a temporary file and inspect that.
	tmp, err := os.MkdirTemp("", "vistudy-zeroshot-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	image, text, err := z.towers()
	if err != nil {
		return nil, nil, err
	}
	defer image.Close()
	defer text.Close()
	ip, tp := filepath.Join(tmp, "image.onnx"), filepath.Join(tmp, "text.onnx")
	if err := writeModel(image, ip); err != nil {
		return nil, nil, err
	}
	if err := writeModel(text, tp); err != nil {
		return nil, nil, err
	}
	rename := func(e *clip.Encoder, err error) (*clip.Encoder, error) {
		if err != nil {
			return nil, fmt.Errorf("%s: %s", z.File, strings.ReplaceAll(err.Error(), tmp+string(filepath.Separator), ""))
		}
		e.Path = z.File
		return e, nil
	}
	if img, err = rename(clip.InspectImageEncoder(ip)); err != nil {
		return nil, nil, err
	}
	if txt, err = rename(clip.InspectTextEncoder(tp)); err != nil {
		return nil, nil, err
	}
	return img, txt, clip.CheckPair(img, txt)
}

// writeModel encodes m into path (not atomically: temporary files).
func writeModel(m *onnx.Model, path string) error {
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

var (
	tokenizersMu sync.Mutex
	tokenizers   = map[string]clip.Tokens{}
)

// tokens loads (and caches) CLIP's tokenizer from the merges file, or the token table.
func (z *ZeroShot) tokens() (clip.Tokens, error) {
	path := z.Merges + "\x00" + z.Tokens
	tokenizersMu.Lock()
	defer tokenizersMu.Unlock()
	if t, ok := tokenizers[path]; ok {
		return t, nil
	}
	var t clip.Tokens
	var err error
	if z.Tokens != "" {
		t, err = clip.LoadTokenTable(z.Tokens)
	} else {
		t, err = clip.LoadTokenizer(z.Merges)
	}
	if err != nil {
		return nil, err
	}
	tokenizers[path] = t
	return t, nil
}

// prompts are the texts the variant's class embeddings encode.
func prompts(classes, templates []string) []string {
	out := make([]string, 0, len(classes)*len(templates))
	for _, c := range classes {
		for _, t := range templates {
			out = append(out, clip.Fill(t, c))
		}
	}
	return out
}

// checkZeroShot is validate's check of a zero-shot model's variants: the encoder files and their
// pairing, the merges file, the class names and each variant's templates.
func (v *validator) checkZeroShot(models []*Model) {
	checked := map[string]bool{}
	for _, m := range models {
		z := m.ZeroShot
		what := fmt.Sprintf("model %q", z.Model)
		at := func(key string) Pos { return orPos(z.pos[key], m.pos[""]) }
		if !checked[z.Model] {
			checked[z.Model] = true
			files := true
			for _, f := range []struct{ key, path string }{{zsImage, z.Image}, {zsText, z.Text}, {zsFile, z.File}} {
				if f.path == "" || (z.File != "" && f.key != zsFile) {
					continue
				}
				if st, err := os.Stat(f.path); err != nil || st.IsDir() {
					v.add(at(f.key), "%s: zero_shot %s: %s is not a file", what, f.key, f.path)
					files = false
				}
			}
			if files {
				img, txt, err := z.inspect()
				if err == nil && len(txt.Extra) > 0 {
					err = fmt.Errorf("text encoder %s has inputs besides the token ids (%s): export it with the token ids only (docs/zeroshot.md)", txt.Path, strings.Join(txt.Extra, ", "))
				}
				key := zsImage
				if err != nil && strings.HasPrefix(err.Error(), "text encoder") {
					key = zsText
				}
				if z.File != "" {
					key = zsFile
				}
				if err != nil {
					v.add(at(key), "%s: zero_shot: %v", what, err)
				} else if h, w, ok := fixedImageSize(img.Input.Dims); ok && (h != m.Input.Height || w != m.Input.Width) {
					v.add(orPos(m.pos["input.size"], m.pos[""]), "%s: the image encoder input %s is %dx%d, but input.size is %dx%d",
						what, img.Input.Name, h, w, m.Input.Height, m.Input.Width)
				}
			}
			if z.Merges != "" || z.Tokens != "" {
				if _, err := z.tokens(); err != nil {
					key := zsMerges
					if z.Tokens != "" {
						key = zsTokens
					}
					v.add(at(key), "%s: zero_shot %s: %v", what, key, err)
				}
			}
			if _, _, err := z.classNames(m, v.s.Dir); err != nil {
				key := zsClasses
				if _, ok := z.pos[key]; !ok {
					key = ""
				}
				v.add(at(key), "%s: zero_shot: %v", what, err)
			}
		}
		templates, err := z.templates()
		if err != nil {
			v.add(at(zsPrompts+"."+z.Variant), "%s: zero_shot prompts.%s: %v", what, z.Variant, err)
			continue
		}
		if z.Tokens == "" {
			continue
		}
		classes, _, err1 := z.classNames(m, v.s.Dir)
		tab, err2 := z.tokens()
		if err1 != nil || err2 != nil {
			continue // reported above
		}
		if miss := tab.(*clip.TokenTable).Missing(prompts(classes, templates)); len(miss) > 0 {
			more := ""
			if len(miss) > 3 {
				more = fmt.Sprintf(" and %d more", len(miss)-3)
				miss = miss[:3]
			}
			v.add(at(zsPrompts+"."+z.Variant), "%s: zero_shot prompts.%s: the token table %s has no ids for %q%s (make it again from the merges file: go run ./zoo/clip/tokenize -table, or give merges)",
				what, z.Variant, z.Tokens, miss, more)
		}
	}
}

// fixedImageSize reads H and W of an [N, 3, H, W] input with known sides.
func fixedImageSize(d []onnx.Dim) (int, int, bool) {
	if len(d) != 4 || d[2].Value <= 0 || d[3].Value <= 0 {
		return 0, 0, false
	}
	return int(d[2].Value), int(d[3].Value), true
}

// PrepareZeroShot makes every zero-shot model variant of the study a plain classifier before any
// stage runs: the class embeddings (the text encoder run by the model's runtime plugin, kept in the
// run directory under clip.EmbeddingsKey, so a resumed or sharded run reads them) and the composed
// classifier at the model's Path (image encoder → L2 norm → class embeddings → × logit_scale). A
// classifier already composed from the same embeddings is left untouched.
func PrepareZeroShot(ctx context.Context, s *Study, cat *host.Catalog, mem memory.Allocator, log *slog.Logger) error {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	encoders := map[string]*textEncoder{}
	defer func() {
		for _, e := range encoders {
			e.close()
		}
	}()
	for _, m := range s.Models {
		z := m.ZeroShot
		if z == nil {
			continue
		}
		if err := os.MkdirAll(z.dir(s), 0o777); err != nil {
			return fmt.Errorf("zero-shot model %s: %w", m.Name, err)
		}
		embs, cats, err := z.classEmbeddings(ctx, s, m, cat, mem, encoders, log)
		if err != nil {
			return fmt.Errorf("zero-shot model %s: %w", m.Name, err)
		}
		if err := z.compose(m, embs, cats); err != nil {
			return fmt.Errorf("zero-shot model %s: %w", m.Name, err)
		}
	}
	return nil
}

// classEmbeddings reads the variant's class embeddings from the run directory or computes and
// keeps them.
func (z *ZeroShot) classEmbeddings(ctx context.Context, s *Study, m *Model, cat *host.Catalog, mem memory.Allocator, encoders map[string]*textEncoder, log *slog.Logger) ([][]float32, *clip.Categories, error) {
	classes, cats, err := z.classNames(m, s.Dir)
	if err != nil {
		return nil, nil, err
	}
	templates, err := z.templates()
	if err != nil {
		return nil, nil, fmt.Errorf("prompts.%s: %w", z.Variant, err)
	}
	sum, err := host.FileSHA256(z.Text)
	if err != nil {
		return nil, nil, err
	}
	key := clip.EmbeddingsKey(z.textKey(sum), classes, templates)
	path := z.EmbeddingsPath(s)
	embs, ok, err := clip.LoadEmbeddings(path, key)
	if err != nil || ok {
		return embs, cats, err
	}
	tok, err := z.tokens()
	if err != nil {
		return nil, nil, err
	}
	enc := encoders[z.Model]
	if enc == nil {
		if enc, err = startTextEncoder(ctx, s, m, cat, mem); err != nil {
			return nil, nil, err
		}
		encoders[z.Model] = enc
	}
	if log != nil {
		log.Info("zero-shot class embeddings", "model", m.Name, "classes", len(classes), "templates", len(templates))
	}
	if embs, err = clip.ClassEmbeddings(ctx, tok, enc, classes, templates); err != nil {
		return nil, nil, err
	}
	if err := clip.SaveEmbeddings(path, key, classes, templates, embs); err != nil {
		return nil, nil, err
	}
	return embs, cats, nil
}

// compose writes the variant's classifier to m.Path unless the file there has the same bytes.
func (z *ZeroShot) compose(m *Model, embs [][]float32, cats *clip.Categories) error {
	image, text, err := z.towers()
	if err != nil {
		return err
	}
	text.Close()
	defer image.Close()
	head := onnx.ZeroShotHead{Embedding: z.ImageOutput, Classes: embs, Scale: float32(z.LogitScale)}
	if cats != nil {
		head.Categories = cats.Indices
	}
	if err := image.AppendZeroShotHead(head); err != nil {
		return fmt.Errorf("%s: %w", z.Image, err)
	}
	b, err := image.Marshal()
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(m.Path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	return writeFileAtomic(m.Path, b)
}

// textEncoder runs a text encoder in a runtime plugin process: its token input is rewritten
// (onnx.TokenImageInput) into the float32 image-shaped input the runtime feeds.
type textEncoder struct {
	rt    *host.Runtime
	mem   memory.Allocator
	width int
}

// startTextEncoder writes the token-image form of the text tower into the run directory and loads
// it into the model's runtime plugin.
func startTextEncoder(ctx context.Context, s *Study, m *Model, cat *host.Catalog, mem memory.Allocator) (*textEncoder, error) {
	z := m.ZeroShot
	if cat == nil {
		return nil, errors.New("the text encoder needs the runtime plugin, and no plugins were found")
	}
	e, ok := cat.Lookup(sdk.KindRuntime, m.Runtime.Plugin)
	if !ok {
		return nil, fmt.Errorf("runtime plugin %q is not installed", m.Runtime.Plugin)
	}
	image, text, err := z.towers()
	if err != nil {
		return nil, err
	}
	image.Close()
	defer text.Close()
	input := z.TextInput
	if input == "" {
		info, err := clip.InspectTextEncoder(z.Text)
		if err != nil {
			return nil, err
		}
		if len(info.Extra) > 0 {
			return nil, fmt.Errorf("text encoder %s has inputs besides the token ids (%s)", z.Text, strings.Join(info.Extra, ", "))
		}
		input = info.Input.Name
	}
	if err := text.TokenImageInput(input, clip.ContextLength); err != nil {
		return nil, fmt.Errorf("text encoder %s: %w", z.Text, err)
	}
	b, err := text.Marshal()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(z.dir(s), z.Model+"."+textGraphName)
	if old, err := os.ReadFile(path); err != nil || !bytes.Equal(old, b) {
		if err := writeFileAtomic(path, b); err != nil {
			return nil, err
		}
	}
	w := int(onnx.TokenImageWidth(clip.ContextLength))
	spec := sdk.LoadSpec{Path: path, Name: z.Model + ".text", Output: "logits",
		Input:        sdk.InputMapping{Channels: "RGB", Scale: 1, Height: 1, Width: w},
		IntraThreads: m.Runtime.Threads, Chunk: m.Runtime.Chunk, Providers: m.Runtime.Providers, ProviderFallback: m.Runtime.Fallback, DeviceID: m.Runtime.DeviceID}
	rt, err := host.StartRuntimeSpec(ctx, e, spec, mem)
	if err != nil {
		return nil, fmt.Errorf("text encoder: %w", err)
	}
	return &textEncoder{rt: rt, mem: mem, width: w}, nil
}

// Encode runs a batch of token ids through the text encoder.
func (t *textEncoder) Encode(ctx context.Context, tokens [][]int64) ([][]float32, error) {
	per := 3 * t.width
	data := make([]float32, len(tokens)*per)
	for i, row := range tokens {
		for j, id := range row {
			data[i*per+j] = float32(id)
		}
	}
	img, err := arrowio.NewTensorArray(t.mem, []int{3, 1, t.width}, data)
	if err != nil {
		return nil, err
	}
	defer img.Release()
	rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: arrowio.ColImage, Type: img.DataType()}}, nil), []arrow.Array{img}, int64(len(tokens)))
	defer rec.Release()
	out, err := t.rt.Infer(ctx, rec)
	if err != nil {
		return nil, err
	}
	defer out.Release()
	emb, err := arrowio.TensorColumn(out, arrowio.ColLogits)
	if err != nil {
		return nil, err
	}
	res := make([][]float32, len(tokens))
	for i := range res {
		res[i] = slices.Clone(emb.Row(i))
	}
	return res, nil
}

func (t *textEncoder) close() { t.rt.Close() }

// ManifestZeroShot is what a zero-shot model variant was composed from.
type ManifestZeroShot struct {
	Model      string       `json:"model"` // the variant's model name, <model>@<variant>
	Image      ManifestFile `json:"image"`
	Text       ManifestFile `json:"text"`
	Tokens     ManifestFile `json:"tokens"` // the merges file or the token table
	LogitScale float64      `json:"logit_scale"`
	Classes    string       `json:"classes"`
	Templates  []string     `json:"templates"`
	Embeddings string       `json:"embeddings"` // the class embeddings, relative to the run directory
	Key        string       `json:"key"`        // their clip.EmbeddingsKey
}

// zeroShotManifest records the parts of every zero-shot model variant.
func zeroShotManifest(s *Study) ([]ManifestZeroShot, error) {
	var out []ManifestZeroShot
	file := func(name, path string) (ManifestFile, error) {
		sum, err := host.FileSHA256(path)
		if err != nil {
			return ManifestFile{}, err
		}
		st, err := os.Stat(path)
		if err != nil {
			return ManifestFile{}, err
		}
		return ManifestFile{Name: name, Path: path, SHA256: sum, Bytes: st.Size()}, nil
	}
	for _, m := range s.Models {
		z := m.ZeroShot
		if z == nil {
			continue
		}
		r := ManifestZeroShot{Model: m.Name, LogitScale: z.LogitScale, Classes: z.Classes,
			Embeddings: filepath.Join(zeroShotDir, filepath.Base(z.EmbeddingsPath(s)))}
		var err error
		if r.Image, err = file("image", z.Image); err != nil {
			return nil, fmt.Errorf("zero-shot model %s: %w", m.Name, err)
		}
		if r.Text, err = file("text", z.Text); err != nil {
			return nil, fmt.Errorf("zero-shot model %s: %w", m.Name, err)
		}
		tokens, name := z.Merges, zsMerges
		if z.Tokens != "" {
			tokens, name = z.Tokens, zsTokens
		}
		if r.Tokens, err = file(name, tokens); err != nil {
			return nil, fmt.Errorf("zero-shot model %s: %w", m.Name, err)
		}
		if r.Templates, err = z.templates(); err != nil {
			return nil, fmt.Errorf("zero-shot model %s: %w", m.Name, err)
		}
		classes, _, err := z.classNames(m, s.Dir)
		if err != nil {
			return nil, fmt.Errorf("zero-shot model %s: %w", m.Name, err)
		}
		r.Key = clip.EmbeddingsKey(z.textKey(r.Text.SHA256), classes, r.Templates)
		out = append(out, r)
	}
	return out, nil
}

// textKey is the text encoder's part of the embeddings key: its file's SHA-256 (and, in the
// one-file form, the tensors that make the tower).
func (z *ZeroShot) textKey(sha string) string {
	if z.File != "" {
		return sha + "/" + z.TextInput + "/" + z.TextOutput
	}
	return sha
}
