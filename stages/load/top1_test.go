package load

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/runtimes/onnx"
)

// top1Model is a real ImageNet classifier and the tensor its preprocessing makes of an RGB crop.
type top1Model struct {
	name, dir, input, output string
	expose                   bool                            // output is an inner tensor to expose
	tensor                   func(dst []float32, rgb []byte) // packed RGB crop → [3,224,224]
}

var top1Models = []top1Model{
	{name: "mobilenetv2-int8", dir: "mobilenetv2-12-int8", input: "input", output: "output",
		tensor: func(dst []float32, rgb []byte) { // torchvision: ToTensor, Normalize(mean, std), RGB
			mean, std := [3]float32{0.485, 0.456, 0.406}, [3]float32{0.229, 0.224, 0.225}
			plane := len(rgb) / 3
			for i := range plane {
				for c := range 3 {
					dst[c*plane+i] = (float32(rgb[3*i+c])/255 - mean[c]) / std[c]
				}
			}
		}},
	{name: "squeezenet1.1-fp16", dir: "squeezenet1.1-fp16", input: "data_0", output: "pool10_1", expose: true,
		tensor: func(dst []float32, rgb []byte) { // Caffe: BGR, 0–255, minus the BGR means
			mean := [3]float32{103.939, 116.779, 123.68}
			plane := len(rgb) / 3
			for i := range plane {
				for c := range 3 {
					dst[c*plane+i] = float32(rgb[3*i+2-c]) - mean[c]
				}
			}
		}},
}

// classifier is an ONNX Runtime session over one of top1Models with a float32 interface and any batch.
type classifier struct {
	m    top1Model
	sess *ort.DynamicAdvancedSession
}

func openClassifier(t *testing.T, m top1Model) *classifier {
	t.Helper()
	mod, err := onnx.Open(testenv.SharedData(t, "models", m.dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	if err := mod.SetBatchDim("batch"); err != nil {
		t.Fatal(err)
	}
	if m.expose {
		if err := mod.ExposeOutput(m.output); err != nil {
			t.Fatal(err)
		}
	}
	in, out, err := mod.Float32IO(m.input, m.output)
	if err != nil {
		t.Fatal(err)
	}
	data, err := mod.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(2); err != nil {
		t.Fatal(err)
	}
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(data, []string{in}, []string{out}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Destroy() })
	return &classifier{m: m, sess: sess}
}

// top1 returns the arg-max class (ties to the lower index) of each 224×224 RGB crop.
func (c *classifier) top1(t *testing.T, crops [][]byte) []int {
	t.Helper()
	const plane, batch = 224 * 224, 25
	preds := make([]int, 0, len(crops))
	buf := make([]float32, batch*3*plane)
	for start := 0; start < len(crops); start += batch {
		part := crops[start:min(start+batch, len(crops))]
		for i, rgb := range part {
			c.m.tensor(buf[i*3*plane:(i+1)*3*plane], rgb)
		}
		x, err := ort.NewTensor(ort.NewShape(int64(len(part)), 3, 224, 224), buf[:len(part)*3*plane])
		if err != nil {
			t.Fatal(err)
		}
		outs := []ort.Value{nil}
		err = c.sess.Run([]ort.Value{x}, outs)
		x.Destroy()
		if err != nil {
			t.Fatalf("%s: %v", c.m.name, err)
		}
		logits := outs[0].(*ort.Tensor[float32]).GetData()
		k := len(logits) / len(part)
		for i := range part {
			row, best := logits[i*k:(i+1)*k], 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			preds = append(preds, best)
		}
		outs[0].Destroy()
	}
	return preds
}

// predictChanged predicts crops, reusing base's prediction where a crop is byte-identical to baseCrops':
// the same session on the same bytes gives the same answer, and only the changed images are run.
func (c *classifier) predictChanged(t *testing.T, crops, baseCrops [][]byte, base []int) (preds []int, changed int) {
	t.Helper()
	var idx []int
	var run [][]byte
	for i := range crops {
		if !bytes.Equal(crops[i], baseCrops[i]) {
			idx, run = append(idx, i), append(run, crops[i])
		}
	}
	preds = append([]int(nil), base...)
	for j, p := range c.top1(t, run) {
		preds[idx[j]] = p
	}
	return preds, len(idx)
}

// TestTop1MatchesPIL: per-image top-1 of the int8 MobileNetV2 and of SqueezeNet fp16 on all 500
// imagenet-sample images, from the load stage's tensors, equals that from PIL's (torchvision's
// Resize(256) + CenterCrop(224)) through the same model and ONNX Runtime; with draft decoding on both
// sides too. It logs top-1 accuracy with and without draft: the effect of the `decode: draft` mode.
func TestTop1MatchesPIL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two ImageNet models over 500 images (-short)")
	}
	lib := testenv.ORTLibrary(t)
	if !ort.IsInitialized() {
		ort.SetSharedLibraryPath(lib)
		if err := ort.InitializeEnvironment(); err != nil {
			t.Fatalf("initialise ONNX Runtime from %s: %v", lib, err)
		}
		t.Cleanup(func() { ort.DestroyEnvironment() })
	}
	modes := []bool{false}
	if exactJPEG() {
		modes = append(modes, true) // draft needs libjpeg-turbo
	}
	var files []string
	pil, ours := map[bool][][]byte{}, map[bool][][]byte{}
	for _, draft := range modes {
		var refs []pilRef
		var res []goResult
		files, _, refs, res = sampleComparison(t, draft)
		for i := range refs {
			pil[draft], ours[draft] = append(pil[draft], refs[i].crop), append(ours[draft], res[i].crop)
		}
	}
	labels := wnidLabels(t, files)
	accuracy := func(p []int) float64 {
		hits := 0
		for i := range p {
			if p[i] == labels[i] {
				hits++
			}
		}
		return float64(hits) / float64(len(p))
	}
	for _, m := range top1Models {
		t.Run(m.name, func(t *testing.T) {
			c := openClassifier(t, m)
			pilExact := c.top1(t, pil[false])
			for _, draft := range modes {
				ref, refChanged := pilExact, 0
				if draft {
					ref, refChanged = c.predictChanged(t, pil[true], pil[false], pilExact)
				}
				got, changed := c.predictChanged(t, ours[draft], pil[draft], ref)
				differ := 0
				for i := range got {
					if got[i] != ref[i] {
						differ++
						t.Logf("%s: load stage predicts %d, PIL %d (label %d)", filepath.Base(files[i]), got[i], ref[i], labels[i])
					}
				}
				mode := "exact"
				if draft {
					mode = fmt.Sprintf("draft (%d PIL crops differ from exact)", refChanged)
				}
				t.Logf("%s, decode %s, decoder %s: %d of %d crops differ from PIL's, %d top-1 differ; top-1 accuracy load stage %.3f, PIL %.3f",
					m.name, mode, Decoder(), changed, len(got), differ, accuracy(got), accuracy(ref))
				if exactJPEG() && differ != 0 {
					t.Errorf("%s: %d of %d top-1 predictions differ from PIL-decoded tensors', want 0", m.name, differ, len(got))
				}
			}
		})
	}
}
