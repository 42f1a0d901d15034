package infer

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/vistudy/vistudy/pipeline"
	"github.com/vistudy/vistudy/runtimes/onnx"
	"github.com/vistudy/vistudy/stages/labels"
)

// CheckStudy checks every model of the study without running it: the file is an ONNX model,
// its image input has the declared size, and it outputs as many classes as its label space has.
func (kind) CheckStudy(c *pipeline.Check) {
	for _, m := range c.Study.Models {
		if st, err := os.Stat(m.Path); err != nil || st.IsDir() {
			continue // reported with the model's path
		}
		for _, p := range checkModel(m, c.Study.Dir) {
			c.Add(m.Pos(p.key), "model %q: %s", m.Name, p.msg)
		}
	}
}

type modelProblem struct{ key, msg string }

func checkModel(m *pipeline.Model, dir string) []modelProblem {
	g, err := onnx.Open(m.Path)
	if err != nil {
		return []modelProblem{{"path", fmt.Sprintf("%s is not a readable ONNX model: %v", m.Path, err)}}
	}
	defer g.Close()
	var out []modelProblem
	ins := g.Inputs()
	if len(ins) == 0 {
		return []modelProblem{{"path", fmt.Sprintf("%s has no graph input", m.Path)}}
	}
	if h, w, ok := imageSize(ins[0].Dims); ok && (h != m.Input.Height || w != m.Input.Width) {
		out = append(out, modelProblem{"input.size", fmt.Sprintf("the graph input %s is %s, an image of %dx%d, but input.size is %dx%d",
			ins[0].Name, dimsString(ins[0].Dims), h, w, m.Input.Height, m.Input.Width)})
	}
	if m.Padding != "" {
		if !slices.Contains(onnx.PaddingModes(), m.Padding) {
			out = append(out, modelProblem{"padding", fmt.Sprintf("padding %q: want one of %s", m.Padding, strings.Join(onnx.PaddingModes(), ", "))})
		} else if n, err := g.SetConvPadding(m.Padding); err != nil {
			out = append(out, modelProblem{"padding", fmt.Sprintf("padding %s: %v", m.Padding, err)})
		} else if n == 0 {
			out = append(out, modelProblem{"padding", fmt.Sprintf("padding %s: the model has no zero-padded Conv to rewrite", m.Padding)})
		}
	}
	if k, ok := classes(g, m.OutputTensor); ok {
		if sp, err := labels.Resolve(m.Labels, dir); err == nil && len(sp.Names) != k {
			out = append(out, modelProblem{"labels", fmt.Sprintf("the model outputs %d classes, but its label space %s has %d", k, m.Labels, len(sp.Names))})
		}
	}
	return out
}

// imageSize reads H and W of an NCHW or NHWC image input with known sides.
func imageSize(d []onnx.Dim) (int, int, bool) {
	if len(d) != 4 {
		return 0, 0, false
	}
	switch {
	case d[1].Value == 3 || d[1].Value == 1:
		return int(d[2].Value), int(d[3].Value), d[2].Value > 0 && d[3].Value > 0
	case d[3].Value == 3 || d[3].Value == 1:
		return int(d[1].Value), int(d[2].Value), d[1].Value > 0 && d[2].Value > 0
	}
	return 0, 0, false
}

// classes is the number of outputs per sample of the output read (the graph's first output, or
// the named tensor when its shape is annotated): the product of the known non-batch dimensions.
func classes(g *onnx.Model, tensor string) (int, bool) {
	var vi *onnx.ValueInfo
	for _, o := range g.Outputs() {
		if tensor == "" || o.Name == tensor {
			vi = &o
			break
		}
	}
	if vi == nil || len(vi.Dims) < 2 {
		return 0, false
	}
	k := 1
	for _, d := range vi.Dims[1:] {
		if d.Value <= 0 {
			return 0, false
		}
		k *= int(d.Value)
	}
	return k, true
}

func dimsString(d []onnx.Dim) string {
	s := "["
	for i, x := range d {
		if i > 0 {
			s += ","
		}
		s += x.String()
	}
	return s + "]"
}
