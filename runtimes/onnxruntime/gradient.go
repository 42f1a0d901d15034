package main

import (
	"context"
	"fmt"
	"slices"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/sdk"
	"github.com/vistudy/vistudy/runtimes/onnx"
)

// gradSessions holds one gradient session per loss, built from the model on first use.
type gradSessions struct {
	mu       sync.Mutex
	sessions map[string]*ort.DynamicAdvancedSession
}

func (g *gradSessions) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, s := range g.sessions {
		s.Destroy()
	}
	g.sessions = nil
}

// gradSession returns the gradient session for loss, building it on first use.
func (s *session) gradSession(loss string) (*ort.DynamicAdvancedSession, error) {
	if loss == "" {
		loss = onnx.LossCrossEntropy
	}
	g := &s.grads
	g.mu.Lock()
	defer g.mu.Unlock()
	if gs := g.sessions[loss]; gs != nil {
		return gs, nil
	}
	m, err := onnx.Open(s.req.Path)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if err := setPadding(m, s.req.Padding); err != nil {
		return nil, fmt.Errorf("model %s: %w", s.name, err)
	}
	data, err := m.GradientModel(onnx.GradientOptions{Output: s.req.OutputTensor, Probabilities: s.probs, Loss: loss})
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", s.name, err)
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: session options: %w", err)
	}
	defer opts.Destroy()
	if s.req.IntraThreads > 0 {
		if err := opts.SetIntraOpNumThreads(int(s.req.IntraThreads)); err != nil {
			return nil, fmt.Errorf("onnxruntime: intra-op threads: %w", err)
		}
	}
	if err := opts.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
		return nil, fmt.Errorf("onnxruntime: session config: %w", err)
	}
	probe := &session{} // providers the inference session could not use are skipped again, with a warning there
	if err := probe.appendProviders(opts, s.req); err != nil {
		return nil, err
	}
	gs, err := ort.NewDynamicAdvancedSessionWithONNXData(data, []string{m.Inputs()[0].Name, onnx.GradientLabel},
		[]string{onnx.GradientLogits, onnx.GradientLoss, onnx.GradientOutput}, opts)
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: create gradient session for %s: %w", s.req.Path, err)
	}
	if g.sessions == nil {
		g.sessions = map[string]*ort.DynamicAdvancedSession{}
	}
	g.sessions[loss] = gs
	return gs, nil
}

// gradient runs n images ([3,H,W] RGB in [0,1]) with their labels and returns the logits
// (n × k), the per-sample loss and d loss / d pixels in the same [0,1] RGB layout: the gradient
// model differentiates with respect to the mapped input, and the chain rule through the mapping
// (channel order, ·scale, −mean, /std) is applied here.
func (s *session) gradient(pixels []float32, labels []int64, loss string) (logits, losses, grad []float32, k int, err error) {
	n := len(labels)
	if s.batching == batchLoop && n > 1 {
		per := 3 * s.h * s.w
		for i := 0; i < n; i++ {
			l, ls, g, kk, err := s.gradient(pixels[i*per:(i+1)*per], labels[i:i+1], loss)
			if err != nil {
				return nil, nil, nil, 0, err
			}
			logits, losses, grad, k = append(logits, l...), append(losses, ls...), append(grad, g...), kk
		}
		return logits, losses, grad, k, nil
	}
	gs, err := s.gradSession(loss)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	shape := ort.NewShape(int64(n), 3, int64(s.h), int64(s.w))
	if s.nhwc {
		shape = ort.NewShape(int64(n), int64(s.h), int64(s.w), 3)
	}
	in, err := ort.NewTensor(shape, s.mapPixels(pixels, n))
	if err != nil {
		return nil, nil, nil, 0, fmt.Errorf("input tensor: %w", err)
	}
	defer in.Destroy()
	lab, err := ort.NewTensor(ort.NewShape(int64(n)), slices.Clone(labels))
	if err != nil {
		return nil, nil, nil, 0, fmt.Errorf("label tensor: %w", err)
	}
	defer lab.Destroy()
	outs := []ort.Value{nil, nil, nil}
	if err := gs.Run([]ort.Value{in, lab}, outs); err != nil {
		return nil, nil, nil, 0, err
	}
	res := make([][]float32, 3)
	for i, o := range outs {
		defer o.Destroy()
		t, ok := o.(*ort.Tensor[float32])
		if !ok {
			return nil, nil, nil, 0, fmt.Errorf("gradient output %d is %T, want float32", i, o)
		}
		res[i] = t.GetData()
	}
	logits, losses = slices.Clone(res[0]), slices.Clone(res[1])
	if len(logits)%n != 0 || len(losses) != n || len(res[2]) != len(pixels) {
		return nil, nil, nil, 0, fmt.Errorf("gradient model returned %d logits, %d losses, %d gradients for %d images", len(logits), len(losses), len(res[2]), n)
	}
	k = len(logits) / n
	return logits, losses, s.unmapGradient(res[2], n), k, nil
}

// unmapGradient turns d loss / d mapped input (model layout) into d loss / d pixels ([3,H,W] RGB
// in [0,1]): mapped[c] = (pixel[src]·scale − mean[c]) / std[c], so d/dpixel[src] = g[c]·scale/std[c].
func (s *session) unmapGradient(g []float32, n int) []float32 {
	hw := s.h * s.w
	out := make([]float32, len(g))
	for i := 0; i < n; i++ {
		img := g[i*3*hw : (i+1)*3*hw]
		dst := out[i*3*hw : (i+1)*3*hw]
		for c := 0; c < 3; c++ {
			src := c
			if s.bgr {
				src = 2 - c
			}
			f := s.scale / s.std[c]
			plane := dst[src*hw : (src+1)*hw]
			if s.nhwc {
				for p := range plane {
					plane[p] = img[p*3+c] * f
				}
				continue
			}
			for p, v := range img[c*hw : (c+1)*hw] {
				plane[p] = v * f
			}
		}
	}
	return out
}

// Gradient is the session's input gradient of a loss (sdk.GradientSession).
func (s *session) Gradient(_ context.Context, images *arrowio.TensorArray, labels []int32, loss string) (*sdk.Gradients, error) {
	switch loss {
	case "", onnx.LossCrossEntropy, onnx.LossMargin:
	default:
		return nil, sdk.BadInput(fmt.Errorf("loss %q: want %s or %s", loss, onnx.LossCrossEntropy, onnx.LossMargin))
	}
	if err := s.checkImages(images); err != nil {
		return nil, err
	}
	ys := make([]int64, len(labels))
	for i, y := range labels {
		if y < 0 {
			return nil, sdk.BadInput(fmt.Errorf("row %d has label %d: a gradient needs a known label", i, y))
		}
		ys[i] = int64(y)
	}
	logits, losses, grad, k, err := s.gradient(images.Values(), ys, loss)
	if err != nil {
		return nil, fmt.Errorf("model %s: gradient: %w", s.name, err)
	}
	for _, y := range ys {
		if int(y) >= k {
			return nil, sdk.BadInput(fmt.Errorf("label %d is outside the model's %d classes", y, k))
		}
	}
	return &sdk.Gradients{Logits: sdk.Logits{K: k, Values: logits}, Loss: losses, Grad: grad}, nil
}
