package onnx

import (
	"bufio"
	"bytes"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// tinyClassifier returns a Classifier with seeded random weights (rounded to dt, so that the Go
// reference sees the values ONNX Runtime sees).
func tinyClassifier(dt DType, batch int64, seed uint64) Classifier {
	rng := rand.New(rand.NewPCG(seed, 1))
	draw := func(n int64, scale float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = roundTo(dt, float32((rng.Float64()*2-1)*scale))
		}
		return v
	}
	c := Classifier{DType: dt, Batch: batch, Channels: 2, Height: 5, Width: 4, Filters: 3, Kernel: 3, Classes: 4}
	c.ConvWeight = draw(c.Filters*c.Channels*c.Kernel*c.Kernel, 0.5)
	c.ConvBias = draw(c.Filters, 0.2)
	c.FCWeight = draw(c.Classes*c.Filters, 1)
	c.FCBias = draw(c.Classes, 0.1)
	return c
}

// roundTo rounds v to the precision of dt (float16 or float32).
func roundTo(dt DType, v float32) float32 {
	if dt == Float16 {
		return Float16ToFloat32(Float32ToFloat16(v))
	}
	return v
}

// referencePooled computes the classifier's features by hand: zero-padded 'same' convolution,
// ReLU, then the mean over the image; one row of Filters values per image.
func referencePooled(c Classifier, x []float32, n int64) [][]float64 {
	C, H, W, F, K, p := c.Channels, c.Height, c.Width, c.Filters, c.Kernel, c.Kernel/2
	out := make([][]float64, n)
	for b := int64(0); b < n; b++ {
		pooled := make([]float64, F)
		for f := int64(0); f < F; f++ {
			for y := int64(0); y < H; y++ {
				for xx := int64(0); xx < W; xx++ {
					s := float64(c.ConvBias[f])
					for ch := int64(0); ch < C; ch++ {
						for ky := int64(0); ky < K; ky++ {
							for kx := int64(0); kx < K; kx++ {
								iy, ix := y+ky-p, xx+kx-p
								if iy < 0 || iy >= H || ix < 0 || ix >= W {
									continue
								}
								s += float64(c.ConvWeight[((f*C+ch)*K+ky)*K+kx]) * float64(x[((b*C+ch)*H+iy)*W+ix])
							}
						}
					}
					pooled[f] += math.Max(s, 0) / float64(H*W)
				}
			}
		}
		out[b] = pooled
	}
	return out
}

// referenceLogits computes the classifier by hand: logits = W·pooled + b.
func referenceLogits(c Classifier, x []float32, n int64) []float32 {
	out := make([]float32, 0, n*c.Classes)
	for _, pooled := range referencePooled(c, x, n) {
		for k := int64(0); k < c.Classes; k++ {
			s := float64(c.FCBias[k])
			for f := int64(0); f < c.Filters; f++ {
				s += float64(c.FCWeight[k*c.Filters+f]) * pooled[f]
			}
			out = append(out, float32(s))
		}
	}
	return out
}

func TestClassifierMatchesHandComputedReference(t *testing.T) {
	for _, tc := range []struct {
		name  string
		dt    DType
		batch int64 // 0: symbolic
		run   int64 // batch fed to the session
		tol   float64
	}{
		{"float32 fixed batch", Float32, 2, 2, 1e-5},
		{"float32 symbolic batch", Float32, 0, 3, 1e-5},
		{"float16 fixed batch", Float16, 2, 2, 2e-2},
		{"float16 symbolic batch", Float16, 0, 3, 2e-2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tinyClassifier(tc.dt, tc.batch, 7)
			model, err := c.Encode()
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(11, 2))
			x := make([]float32, tc.run*c.Channels*c.Height*c.Width)
			for i := range x {
				x[i] = roundTo(tc.dt, rng.Float32())
			}
			want := referenceLogits(c, x, tc.run)
			got := newSession(t, model, false).run(
				[]ortTensor{{name: ClassifierInput, dt: tc.dt, shape: []int64{tc.run, c.Channels, c.Height, c.Width}, vals: x}},
				[]ortTensor{{name: ClassifierOutput, dt: tc.dt, shape: []int64{tc.run, c.Classes}}})[0]
			if d := maxAbsDiff(got, want); d > tc.tol {
				t.Errorf("ONNX Runtime logits %v, hand-computed %v: max difference %g > %g", got, want, d, tc.tol)
			}
			// The test is only meaningful if the logits are not all equal.
			if slices.Min(want) == slices.Max(want) {
				t.Fatalf("degenerate reference logits %v", want)
			}
		})
	}
}

func TestPromoteInitializersOneSession(t *testing.T) {
	for _, dt := range []DType{Float32, Float16} {
		t.Run(dt.String(), func(t *testing.T) {
			c := tinyClassifier(dt, 0, 3)
			m, model := parseClassifier(t, c)
			if err := m.PromoteInitializers([]string{"conv.weight", "fc.weight"}); err != nil {
				t.Fatal(err)
			}
			if got := len(m.Inputs()); got != 1 {
				t.Errorf("Inputs() after promotion has %d entries, want only the image", got)
			}
			promoted := mustMarshal(t, m)
			// Replacement weights: a PyTorch-style re-initialisation of the head.
			fc := KaimingUniform(rand.New(rand.NewPCG(5, 5)), c.Filters, int(c.Classes*c.Filters))
			for i := range fc {
				fc[i] = roundTo(dt, fc[i])
			}
			rewritten := c
			rewritten.FCWeight = fc
			x := make([]float32, 2*c.Channels*c.Height*c.Width)
			for i := range x {
				x[i] = roundTo(dt, float32(i%7)/7)
			}
			in := ortTensor{name: ClassifierInput, dt: dt, shape: []int64{2, c.Channels, c.Height, c.Width}, vals: x}
			out := []ortTensor{{name: ClassifierOutput, dt: dt, shape: []int64{2, c.Classes}}}
			s := newSession(t, promoted, true)
			plain := s.run([]ortTensor{in}, out)[0]
			replaced := s.run([]ortTensor{in, {name: "fc.weight", dt: dt, shape: []int64{c.Classes, c.Filters}, vals: fc}}, out)[0]
			again := s.run([]ortTensor{in}, out)[0]

			tol := 1e-5
			if dt == Float16 {
				tol = 2e-2
			}
			if d := maxAbsDiff(plain, referenceLogits(c, x, 2)); d > tol {
				t.Errorf("no override: differs from the stored weights' reference by %g", d)
			}
			if d := maxAbsDiff(replaced, referenceLogits(rewritten, x, 2)); d > tol {
				t.Errorf("override: differs from the replaced weights' reference by %g", d)
			}
			if !slices.Equal(plain, again) {
				t.Errorf("an override leaked into the next run: %v then %v", plain, again)
			}
			// Against a model whose initializer was rewritten with SetInitializer: bit-identical.
			m2, err := Parse(model, "")
			if err != nil {
				t.Fatal(err)
			}
			if err := m2.SetInitializer("fc.weight", []int64{c.Classes, c.Filters}, fc); err != nil {
				t.Fatal(err)
			}
			b2 := mustMarshal(t, m2)
			set := newSession(t, b2, true).run([]ortTensor{in}, out)[0]
			if d := maxAbsDiff(set, replaced); d > tol/10 {
				t.Errorf("override %v, rewritten model %v: difference %g", replaced, set, d)
			}
			t.Logf("override vs rewritten model: bit-identical %v, max difference %g", slices.Equal(set, replaced), maxAbsDiff(set, replaced))
		})
	}
}

// loadBGR255 reads a 224×224 PNG as a [3,224,224] BGR tensor with values 0–255, no mean subtracted.
func loadBGR255(t testing.TB, path string) []float32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	b := img.Bounds()
	if b.Dx() != 224 || b.Dy() != 224 {
		t.Fatalf("%s is %v, want 224x224", path, b.Size())
	}
	const hw = 224 * 224
	out := make([]float32, 3*hw)
	for y := 0; y < 224; y++ {
		for x := 0; x < 224; x++ {
			c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			i := y*224 + x
			out[i], out[hw+i], out[2*hw+i] = float32(c.B), float32(c.G), float32(c.R)
		}
	}
	return out
}

// squeezeNetImages returns four distinct BGR 0–255 images: fish, kitten, and two synthetic ones.
func squeezeNetImages(t testing.TB) [][]float32 {
	dir := filepath.Dir(requireSqueezeNet(t))
	imgs := [][]float32{loadBGR255(t, filepath.Join(dir, "fish.png")), loadBGR255(t, filepath.Join(dir, "kitten_224.png"))}
	grad := make([]float32, 3*224*224)
	noise := make([]float32, 3*224*224)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range grad {
		grad[i] = float32(i%224) * 255 / 223
		noise[i] = float32(rng.IntN(256))
	}
	return append(imgs, grad, noise)
}

func TestSqueezeNetFishMatchesReference(t *testing.T) {
	path := requireSqueezeNet(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ref := readExpected(t, filepath.Join(filepath.Dir(path), "fish_expected_bgr255_nomean.csv"))
	fish := squeezeNetImages(t)[0]
	got := newSession(t, data, false).run(
		[]ortTensor{{name: "data_0", dt: Float16, shape: []int64{1, 3, 224, 224}, vals: fish}},
		[]ortTensor{{name: "softmaxout_1", dt: Float16, shape: []int64{1, 1000, 1, 1}}})[0]
	if d := maxAbsDiff(got, ref); d > 2e-3 {
		t.Errorf("probabilities differ from the published reference by %g", d)
	}
	if got[0] < 0.7 || got[389] < 0.2 {
		t.Errorf("tench %g, barracouta %g; reference 0.737793, 0.255859", got[0], got[389])
	}
}

// readExpected reads an index,value CSV into a 1000-vector.
func readExpected(t testing.TB, path string) []float32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := make([]float32, 1000)
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		idx, val, ok := strings.Cut(sc.Text(), ",")
		i, err1 := strconv.Atoi(idx)
		v, err2 := strconv.ParseFloat(val, 32)
		if !ok || err1 != nil || err2 != nil || i < 0 || i >= 1000 {
			t.Fatalf("%s: bad line %q", path, sc.Text())
		}
		out[i] = float32(v)
	}
	return out
}

func TestSqueezeNetReserialisedRunsIdentically(t *testing.T) {
	m, orig := openSqueezeNet(t)
	same := mustMarshal(t, m)
	// Re-encode every message from its fields (nothing taken verbatim) to exercise the encoder too.
	reencoded, err := forceReencode(t, orig)
	if err != nil {
		t.Fatal(err)
	}
	img := squeezeNetImages(t)[1]
	in := []ortTensor{{name: "data_0", dt: Float16, shape: []int64{1, 3, 224, 224}, vals: img}}
	out := []ortTensor{{name: "softmaxout_1", dt: Float16, shape: []int64{1, 1000, 1, 1}}}
	want := newSession(t, orig, false).run(in, out)[0]
	for name, b := range map[string][]byte{"Marshal": same, "forced re-encode": reencoded} {
		if !bytes.Equal(b, orig) {
			t.Errorf("%s: %d bytes differ from the %d-byte original", name, len(b), len(orig))
		}
		if got := newSession(t, b, false).run(in, out)[0]; !slices.Equal(got, want) {
			t.Errorf("%s: outputs differ by %g", name, maxAbsDiff(got, want))
		}
	}
}

func TestSqueezeNetBatchAndLogits(t *testing.T) {
	m, orig := openSqueezeNet(t)
	if err := m.SetBatchDim("N"); err != nil {
		t.Fatal(err)
	}
	if err := m.ExposeOutput("pool10_1"); err != nil {
		t.Fatal(err)
	}
	if got := m.Inputs()[0].Dims[0]; got != (Dim{Param: "N"}) {
		t.Fatalf("input dim 0 = %v, want N", got)
	}
	outs := m.Outputs()
	if len(outs) != 2 || outs[1].Name != "pool10_1" || outs[1].ElemType != Float16 || outs[0].Dims[0].Param != "N" {
		t.Fatalf("outputs after rewrite: %+v", outs)
	}
	batched := mustMarshal(t, m)
	imgs := squeezeNetImages(t)
	var x []float32
	for _, img := range imgs {
		x = append(x, img...)
	}
	res := newSession(t, batched, false).run(
		[]ortTensor{{name: "data_0", dt: Float16, shape: []int64{4, 3, 224, 224}, vals: x}},
		[]ortTensor{
			{name: "softmaxout_1", dt: Float16, shape: []int64{4, 1000, 1, 1}},
			{name: "pool10_1", dt: Float16, shape: []int64{4, 1000, 1, 1}},
		})
	probs, logits := res[0], res[1]
	single := newSession(t, orig, false)
	identical, worst := 0, 0.0
	for i, img := range imgs {
		one := single.run(
			[]ortTensor{{name: "data_0", dt: Float16, shape: []int64{1, 3, 224, 224}, vals: img}},
			[]ortTensor{{name: "softmaxout_1", dt: Float16, shape: []int64{1, 1000, 1, 1}}})[0]
		row := probs[i*1000 : (i+1)*1000]
		if slices.Equal(row, one) {
			identical++
		}
		worst = math.Max(worst, maxAbsDiff(row, one))
		if soft := softmax(logits[i*1000 : (i+1)*1000]); maxAbsDiff(soft, row) > 2e-3 {
			t.Errorf("image %d: softmax(pool10_1) differs from softmaxout_1 by %g", i, maxAbsDiff(soft, row))
		}
	}
	t.Logf("batch of 4 vs single runs: %d of 4 rows bit-identical, max difference %g", identical, worst)
	if worst > 2e-3 {
		t.Errorf("batched probabilities differ from single runs by %g", worst)
	}
}

// softmax in float64, returned as float32.
func softmax(z []float32) []float32 {
	mx := float64(slices.Max(z))
	sum := 0.0
	e := make([]float64, len(z))
	for i, v := range z {
		e[i] = math.Exp(float64(v) - mx)
		sum += e[i]
	}
	out := make([]float32, len(z))
	for i := range e {
		out[i] = float32(e[i] / sum)
	}
	return out
}

func TestSqueezeNetPromotedWeightOneSession(t *testing.T) {
	path := requireSqueezeNet(t)
	m, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var conv10 Layer
	for _, l := range m.Layers() {
		if l.Weight == "conv10_w_0" {
			conv10 = l
		}
	}
	if err := m.PromoteInitializers([]string{conv10.Weight, conv10.Bias}); err != nil {
		t.Fatal(err)
	}
	promoted := mustMarshal(t, m)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// IR 3 lists all 52 initializers as inputs; ONNX Runtime would not bind them. After promotion the
	// model is IR 4 and only the promoted ones remain inputs besides the image.
	all, err := m.valueInfos(graphInput)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range all {
		names = append(names, v.Name)
	}
	slices.Sort(names)
	if m.IRVersion() != 4 || !slices.Equal(names, []string{"conv10_b_0", "conv10_w_0", "data_0"}) {
		t.Errorf("after promotion: IR %d, graph inputs %v", m.IRVersion(), names)
	}
	rng := rand.New(rand.NewPCG(42, 0))
	w := KaimingUniform(rng, conv10.FanIn, int(product(conv10.WeightShape)))
	b := BiasUniform(rng, conv10.FanIn, int(conv10.WeightShape[0]))

	img := squeezeNetImages(t)[0]
	in := ortTensor{name: "data_0", dt: Float16, shape: []int64{1, 3, 224, 224}, vals: img}
	out := []ortTensor{{name: "softmaxout_1", dt: Float16, shape: []int64{1, 1000, 1, 1}}}
	s := newSession(t, promoted, true)
	plain := s.run([]ortTensor{in}, out)[0]
	replaced := s.run([]ortTensor{in,
		{name: conv10.Weight, dt: Float16, shape: conv10.WeightShape, vals: w},
		{name: conv10.Bias, dt: Float16, shape: []int64{conv10.WeightShape[0]}, vals: b}}, out)[0]

	if want := newSession(t, orig, true).run([]ortTensor{in}, out)[0]; maxAbsDiff(plain, want) > 1e-3 {
		t.Errorf("no override: outputs differ from the original model by %g", maxAbsDiff(plain, want))
	} else {
		t.Logf("no override vs original model: bit-identical %v, max difference %g", slices.Equal(plain, want), maxAbsDiff(plain, want))
	}
	m2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if err := m2.SetInitializer(conv10.Weight, conv10.WeightShape, w); err != nil {
		t.Fatal(err)
	}
	if err := m2.SetInitializer(conv10.Bias, []int64{conv10.WeightShape[0]}, b); err != nil {
		t.Fatal(err)
	}
	rewritten := mustMarshal(t, m2)
	want := newSession(t, rewritten, true).run([]ortTensor{in}, out)[0]
	if d := maxAbsDiff(replaced, want); d > 1e-3 {
		t.Errorf("override differs from the rewritten model by %g", d)
	}
	t.Logf("override vs rewritten model: bit-identical %v, max difference %g", slices.Equal(replaced, want), maxAbsDiff(replaced, want))
	if d := maxAbsDiff(replaced, plain); d < 1e-2 {
		t.Errorf("re-initialising conv10 changed the probabilities by only %g", d)
	}
}
