package clip

import (
	"errors"
	"fmt"

	"github.com/vistudy/vistudy/runtimes/onnx"
)

// Encoder is what an encoder's ONNX graph declares, as far as the checks need it.
type Encoder struct {
	Path   string
	Input  onnx.ValueInfo // the image tensor, or the token ids
	Output onnx.ValueInfo // the embeddings [N, D]
	Dim    int64          // D; 0 when the graph leaves it symbolic
	// Text encoders only.
	Context int64    // token sequence length; 0 when symbolic
	Vocab   int64    // rows of the table the token ids index (an initializer); 0 when not found
	Extra   []string // further inputs (a Hugging Face attention_mask): the runtime must feed them
}

// InspectImageEncoder reads an image encoder: one float input [N, 3, H, W], one output [N, D].
func InspectImageEncoder(path string) (*Encoder, error) {
	m, err := onnx.Open(path)
	if err != nil {
		return nil, fmt.Errorf("image encoder: %w", err)
	}
	defer m.Close()
	e := &Encoder{Path: path}
	ins := m.Inputs()
	if len(ins) != 1 {
		return nil, fmt.Errorf("image encoder %s: %d inputs, want 1 image [N,3,H,W]", path, len(ins))
	}
	e.Input = ins[0]
	if e.Input.ElemType != onnx.Float32 && e.Input.ElemType != onnx.Float16 {
		return nil, fmt.Errorf("image encoder %s: input %q is %s, want float", path, e.Input.Name, e.Input.ElemType)
	}
	if len(e.Input.Dims) != 4 || (e.Input.Dims[1].Value != 3 && e.Input.Dims[1].Param == "") {
		return nil, fmt.Errorf("image encoder %s: input %q has shape %v, want [N,3,H,W]", path, e.Input.Name, e.Input.Dims)
	}
	if err := e.readOutput(m); err != nil {
		return nil, fmt.Errorf("image encoder %s: %w", path, err)
	}
	return e, nil
}

// InspectTextEncoder reads a text encoder: an integer token input [N, context] (plus, optionally, an
// attention mask), one output [N, D]; the vocabulary is the first dimension of the initializer that a
// Gather indexes with the token ids (the token embedding, or a vocabulary remap).
func InspectTextEncoder(path string) (*Encoder, error) {
	m, err := onnx.Open(path)
	if err != nil {
		return nil, fmt.Errorf("text encoder: %w", err)
	}
	defer m.Close()
	e := &Encoder{Path: path}
	found := false
	for _, in := range m.Inputs() {
		if !found && (in.ElemType == onnx.Int64 || in.ElemType == onnx.Int32) && len(in.Dims) == 2 {
			e.Input, found = in, true
			continue
		}
		e.Extra = append(e.Extra, in.Name)
	}
	if !found {
		return nil, fmt.Errorf("text encoder %s: no integer token input of rank 2 among %d inputs", path, len(m.Inputs()))
	}
	e.Context = e.Input.Dims[1].Value
	if e.Input.Dims[1].Param != "" {
		e.Context = 0
	}
	e.Vocab = vocabOf(m, e.Input.Name)
	if err := e.readOutput(m); err != nil {
		return nil, fmt.Errorf("text encoder %s: %w", path, err)
	}
	return e, nil
}

// vocabOf follows the token ids through Cast/Identity nodes to the first Gather whose data is an
// initializer and returns that initializer's first dimension (0 when there is none).
func vocabOf(m *onnx.Model, input string) int64 {
	inits := map[string][]int64{}
	for _, t := range m.Initializers() {
		inits[t.Name] = t.Dims
	}
	ids := map[string]bool{input: true}
	for _, n := range m.Nodes() {
		if len(n.Inputs) == 0 {
			continue
		}
		switch n.OpType {
		case "Cast", "Identity":
			if ids[n.Inputs[0]] {
				for _, o := range n.Outputs {
					ids[o] = true
				}
			}
		case "Gather":
			if len(n.Inputs) == 2 && ids[n.Inputs[1]] {
				if d, ok := inits[n.Inputs[0]]; ok && len(d) > 0 {
					return d[0]
				}
			}
		}
	}
	return 0
}

// readOutput takes the single output [N, D].
func (e *Encoder) readOutput(m *onnx.Model) error {
	outs := m.Outputs()
	if len(outs) != 1 {
		return fmt.Errorf("%d outputs, want 1 embedding [N,D]", len(outs))
	}
	e.Output = outs[0]
	if e.Output.Dims != nil && len(e.Output.Dims) != 2 {
		return fmt.Errorf("output %q has shape %v, want [N,D]", e.Output.Name, e.Output.Dims)
	}
	if len(e.Output.Dims) == 2 && e.Output.Dims[1].Param == "" && e.Output.Dims[1].Value > 0 {
		e.Dim = e.Output.Dims[1].Value
	}
	return nil
}

// CheckPair reports every mismatch between an image encoder, a text encoder and CLIP's tokenizer:
// embedding sizes, the context length, the vocabulary. Each error names the file; nil when they fit.
// A size the graphs leave symbolic is checked at run time with CheckDims instead.
func CheckPair(image, text *Encoder) error {
	var errs []error
	if image.Dim > 0 && text.Dim > 0 && image.Dim != text.Dim {
		errs = append(errs, fmt.Errorf("image encoder %s embeds in %d dimensions, text encoder %s in %d",
			image.Path, image.Dim, text.Path, text.Dim))
	}
	if text.Context > 0 && text.Context != ContextLength {
		errs = append(errs, fmt.Errorf("text encoder %s: token input %q has context length %d, CLIP's tokenizer writes %d",
			text.Path, text.Input.Name, text.Context, ContextLength))
	}
	if text.Vocab > 0 && text.Vocab != VocabSize {
		errs = append(errs, fmt.Errorf("text encoder %s: vocabulary of %d tokens, CLIP's tokenizer has %d",
			text.Path, text.Vocab, VocabSize))
	}
	return errors.Join(errs...)
}

// CheckEncoders inspects both files and checks them against each other and the tokenizer.
func CheckEncoders(imagePath, textPath string) error {
	img, err := InspectImageEncoder(imagePath)
	if err != nil {
		return err
	}
	txt, err := InspectTextEncoder(textPath)
	if err != nil {
		return err
	}
	return CheckPair(img, txt)
}

// CheckDims checks, at run time, embeddings of the two encoders whose sizes the graphs left symbolic.
func CheckDims(imagePath string, imageDim int, textPath string, textDim int) error {
	if imageDim != textDim {
		return fmt.Errorf("image encoder %s embeds in %d dimensions, text encoder %s in %d", imagePath, imageDim, textPath, textDim)
	}
	return nil
}
