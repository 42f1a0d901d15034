package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/vistudy/vistudy/plugins/sdk"
	"github.com/vistudy/vistudy/runtimes/onnx"
)

// Batching modes, reported in LoadResponse.batching.
const (
	batchSymbolic  = "symbolic"  // the graph's batch dimension is already symbolic
	batchRewritten = "rewritten" // the fixed batch dimension was made symbolic
	batchLoop      = "loop"      // the graph only runs batch 1: samples run one at a time
)

// session is one loaded model.
type session struct {
	name     string
	ort      *ort.DynamicAdvancedSession
	input    string
	nhwc     bool
	h, w     int
	batching string
	chunk    int           // samples per ONNX Runtime run, each run on one thread (0: whole batches on the intra-op threads)
	slots    chan struct{} // one per chunk run that may go at once, shared by concurrent batches (nil: no chunks)
	output   string
	outShape []int64 // per-sample output shape (after the batch dimension); nil until the first run
	probs    bool    // the output holds probabilities: logits are their logarithm
	bgr      bool
	scale    float32
	mean     [3]float32
	std      [3]float32

	// Overridable initializers, fed as extra inputs in this order.
	overNames []string
	overInfo  map[string]onnx.TensorInfo
	originals map[string]ort.Value // the trained values
	mu        sync.RWMutex         // guards current: runs that feed overrides hold it for reading
	current   map[string]ort.Value // replacements in force (nil entries: original)
	shapeOnce sync.Once            // sets outShape on the first run only: Infer calls run concurrently
	inputs    chan []float32       // buffers of mapped inputs, reused across batches (not a sync.Pool: a collection would drop them)

	providers []string
	warnings  []string

	req   sdk.LoadSpec // what was loaded, for the gradient sessions built on first use
	grads gradSessions
}

// loadSession prepares the model of req and creates its ONNX Runtime session.
func loadSession(req sdk.LoadSpec) (*session, error) {
	if _, err := initEnvironment(); err != nil {
		return nil, err
	}
	s := &session{name: req.Name, probs: req.Output == "probabilities", scale: 1, std: [3]float32{1, 1, 1}, chunk: chunkOf(req),
		overInfo: map[string]onnx.TensorInfo{}, originals: map[string]ort.Value{}, current: map[string]ort.Value{}, req: req}
	if err := s.setMapping(req.Input); err != nil {
		return nil, err
	}
	data, err := s.prepare(req, true)
	if err != nil {
		return nil, err
	}
	if err := s.create(req, data); err != nil {
		return nil, err
	}
	if s.batching == batchRewritten {
		// Graphs that bake the batch size into reshapes fail with a symbolic batch: loop instead.
		if probeErr := s.probe(2); probeErr != nil {
			s.destroy()
			s.warnings = append(s.warnings, fmt.Sprintf("model %s: batch dimension could not be made symbolic (%v); running samples one at a time", req.Name, probeErr))
			if data, err = s.prepare(req, false); err != nil {
				return nil, err
			}
			if err := s.create(req, data); err != nil {
				return nil, err
			}
		}
	}
	if err := s.probe(1); err != nil {
		s.destroy()
		return nil, fmt.Errorf("model %s: test run failed: %w", req.Name, err)
	}
	if err := s.checkChunk(req, data); err != nil {
		s.destroy()
		return nil, fmt.Errorf("model %s: test run failed: %w", req.Name, err)
	}
	if s.chunk > 0 {
		s.slots = make(chan struct{}, chunkThreads(req))
	}
	s.inputs = make(chan []float32, max(2, req.Streams)+cap(s.slots))
	return s, nil
}

// cpuChunk is the default chunk on the CPU provider. ONNX Runtime's CPU kernels run a sample faster
// in runs of 4 than of 32, whose activations no longer stay in the caches (16 % on SqueezeNet 1.1,
// 13 % on the int8 MobileNetV2, 1–6 % on the zoo's 64×64 CNN, which loses at 1 to each run's own
// overhead), and one-thread runs side by side waste less than one run on all threads, whose
// threads wait for each other at every operator while decoders share the cores (bench/README.md,
// Chunks and threads).
const cpuChunk = 4

// chunkOf is the chunk a request asks for (0: whole batches): its own (-1: whole batches), else
// cpuChunk with the CPU provider alone (a GPU wants whole batches).
func chunkOf(req sdk.LoadSpec) int {
	switch {
	case req.Chunk != 0:
		return max(0, req.Chunk)
	case len(req.Providers) == 0 || slices.Equal(req.Providers, []string{"cpu"}):
		return cpuChunk
	}
	return 0
}

// chunkThreads is how many one-thread chunk runs go at once: the request's threads, else the cores.
func chunkThreads(req sdk.LoadSpec) int {
	if req.IntraThreads > 0 {
		return req.IntraThreads
	}
	return goruntime.NumCPU()
}

// checkChunk makes sure a chunk changes no number: a graph whose outputs for one sample depend on
// the other samples of its run (a batch statistic, say) goes back to whole batches on the intra-op
// threads, with a warning, unless the study set runtime.chunk, which then is warned of. A graph
// that only runs batch 1 runs its samples one at a time, each on one thread.
func (s *session) checkChunk(req sdk.LoadSpec, data []byte) error {
	if s.chunk == 0 {
		return nil
	}
	if s.batching == batchLoop {
		s.chunk = 1
		return nil
	}
	alone, err := s.samplesAlone()
	if err != nil || alone {
		return err
	}
	if req.Chunk > 0 {
		s.warnings = append(s.warnings, fmt.Sprintf("model %s: a sample's outputs depend on the other samples of its run, so runtime.chunk %d changes them", req.Name, req.Chunk))
		return nil
	}
	s.warnings = append(s.warnings, fmt.Sprintf("model %s: a sample's outputs depend on the other samples of its run; running whole batches", req.Name))
	s.chunk = 0
	s.destroy()
	if err := s.create(req, data); err != nil {
		return err
	}
	return s.probe(1)
}

// samplesAlone reports whether two different samples run together give each the outputs it gets
// run alone, bit for bit.
func (s *session) samplesAlone() (bool, error) {
	per := 3 * s.h * s.w
	pix := make([]float32, 2*per)
	x := uint32(2463534242)
	for i := range pix { // xorshift: any two different inputs will do
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		pix[i] = float32(x>>8) / (1 << 24)
	}
	both, _, err := s.runOnce(nil, pix, 2)
	if err != nil {
		return false, err
	}
	var apart []float32
	for i := range 2 {
		if apart, _, err = s.runOnce(apart, pix[i*per:(i+1)*per], 1); err != nil {
			return false, err
		}
	}
	return slices.EqualFunc(both, apart, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }), nil // NaN too
}

func (s *session) setMapping(in sdk.InputMapping) error {
	if in.Height <= 0 || in.Width <= 0 {
		return errors.New("load request has no input size")
	}
	switch in.Channels {
	case "", "RGB":
	case "BGR":
		s.bgr = true
	default:
		return fmt.Errorf("input channels %q: want RGB or BGR", in.Channels)
	}
	if in.Scale != 0 {
		s.scale = float32(in.Scale)
	}
	s.h, s.w = int(in.Height), int(in.Width)
	fill := func(dst *[3]float32, vals []float64, what string) error {
		switch len(vals) {
		case 0:
		case 1:
			*dst = [3]float32{float32(vals[0]), float32(vals[0]), float32(vals[0])}
		case 3:
			*dst = [3]float32{float32(vals[0]), float32(vals[1]), float32(vals[2])}
		default:
			return fmt.Errorf("input %s has %d values, want 1 or 3", what, len(vals))
		}
		return nil
	}
	if err := fill(&s.mean, in.Mean, "mean"); err != nil {
		return err
	}
	if err := fill(&s.std, in.Std, "std"); err != nil {
		return err
	}
	for _, v := range s.std {
		if v == 0 {
			return errors.New("input std must not be 0")
		}
	}
	return nil
}

// prepare rewrites the model for the runtime: symbolic batch (when rewrite), the chosen output
// exposed, overridable initializers promoted to inputs, float32 inputs and outputs.
func (s *session) prepare(req sdk.LoadSpec, rewrite bool) ([]byte, error) {
	m, err := onnx.Open(req.Path)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if err := setPadding(m, req.Padding); err != nil {
		return nil, fmt.Errorf("model %s: %w", req.Name, err)
	}
	ins := m.Inputs()
	if len(ins) == 0 {
		return nil, fmt.Errorf("model %s: the graph has no input", req.Path)
	}
	in := ins[0]
	if len(ins) > 1 {
		s.warnings = append(s.warnings, fmt.Sprintf("model %s has %d inputs; feeding images to the first, %q", req.Name, len(ins), in.Name))
	}
	if len(in.Dims) != 4 {
		return nil, fmt.Errorf("model %s: input %q has shape %v, want 4 dimensions (NCHW or NHWC)", req.Path, in.Name, in.Dims)
	}
	s.input = in.Name
	switch {
	case in.Dims[1].Value == 3:
	case in.Dims[3].Value == 3:
		s.nhwc = true
	default:
		return nil, fmt.Errorf("model %s: input %q shape %v has no 3-channel axis at position 1 (NCHW) or 3 (NHWC)", req.Path, in.Name, in.Dims)
	}
	hAxis, wAxis := 2, 3
	if s.nhwc {
		hAxis, wAxis = 1, 2
	}
	for _, ax := range []struct {
		d    onnx.Dim
		want int
		what string
	}{{in.Dims[hAxis], s.h, "height"}, {in.Dims[wAxis], s.w, "width"}} {
		if ax.d.Value > 0 && int(ax.d.Value) != ax.want {
			return nil, fmt.Errorf("model %s: input %q has %s %d, the study's input.size gives %d", req.Name, in.Name, ax.what, ax.d.Value, ax.want)
		}
	}
	s.batching = batchSymbolic
	if in.Dims[0].Value > 0 {
		s.batching = batchLoop
		if rewrite {
			if err := m.SetBatchDim("batch"); err != nil {
				return nil, err
			}
			s.batching = batchRewritten
		}
	}
	s.output = req.OutputTensor
	if s.output == "" {
		outs := m.Outputs()
		if len(outs) == 0 {
			return nil, fmt.Errorf("model %s: the graph has no output", req.Path)
		}
		s.output = outs[0].Name
	} else if err := m.ExposeOutput(s.output); err != nil {
		return nil, fmt.Errorf("model %s: output_tensor: %w", req.Name, err)
	}
	s.overNames = slices.Clone(req.Overridable)
	if len(s.overNames) > 0 {
		if err := m.PromoteInitializers(s.overNames); err != nil {
			return nil, fmt.Errorf("model %s: %w", req.Name, err)
		}
		for _, name := range s.overNames {
			t, err := m.Initializer(name)
			if err != nil {
				return nil, err
			}
			s.overInfo[name] = t.TensorInfo
			if s.originals[name] == nil {
				v, err := newValue(t.TensorInfo, t.Float32)
				if err != nil {
					return nil, fmt.Errorf("model %s: initializer %s: %w", req.Name, name, err)
				}
				s.originals[name] = v
			}
		}
	}
	if s.input, s.output, err = m.Float32IO(s.input, s.output); err != nil {
		return nil, fmt.Errorf("model %s: %w", req.Name, err)
	}
	return m.Marshal()
}

// newValue makes an ONNX Runtime tensor of the initializer's type from float32 values.
func newValue(info onnx.TensorInfo, vals []float32) (ort.Value, error) {
	shape := ort.NewShape(info.Dims...)
	switch info.DType {
	case onnx.Float32:
		return ort.NewTensor(shape, slices.Clone(vals))
	case onnx.Float16:
		raw := make([]byte, 2*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint16(raw[2*i:], onnx.Float32ToFloat16(v))
		}
		return ort.NewCustomDataTensor(shape, raw, ort.TensorElementDataTypeFloat16)
	}
	return nil, fmt.Errorf("overriding %s initializers is not supported", info.DType)
}

// create builds the ONNX Runtime session from prepared model bytes.
func (s *session) create(req sdk.LoadSpec, data []byte) error {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return fmt.Errorf("onnxruntime: session options: %w", err)
	}
	defer opts.Destroy()
	threads := intraThreads(req)
	if s.chunk > 0 {
		threads = 1 // chunks run side by side, each on one thread
	}
	if threads > 0 {
		if err := opts.SetIntraOpNumThreads(threads); err != nil {
			return fmt.Errorf("onnxruntime: intra-op threads: %w", err)
		}
	}
	if req.InterThreads > 0 {
		if err := opts.SetInterOpNumThreads(int(req.InterThreads)); err != nil {
			return fmt.Errorf("onnxruntime: inter-op threads: %w", err)
		}
	}
	// ORT's intra-op threads spin while waiting for work; in a pipeline that decodes images on
	// the same cores, spinning takes the CPU the decoders need (measured in bench/).
	if err := opts.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
		return fmt.Errorf("onnxruntime: session config: %w", err)
	}
	// The session is built from bytes, which carry no path: ORT would resolve external data
	// against the current directory. onnx.Open checked the locations stay inside the model's folder.
	dir, err := filepath.Abs(filepath.Dir(req.Path))
	if err != nil {
		return fmt.Errorf("onnxruntime: model folder of %s: %w", req.Path, err)
	}
	if err := opts.AddSessionConfigEntry("session.model_external_initializers_file_folder_path", dir); err != nil {
		return fmt.Errorf("onnxruntime: session config: %w", err)
	}
	if len(s.overNames) > 0 {
		// ORT 1.24 crashes fusing float16 initializers that are also inputs (see runtimes/onnx).
		if err := opts.AddSessionConfigEntry("optimization.disable_specified_optimizers", "FuseFp16InitializerToFp32NodeTransformer"); err != nil {
			return fmt.Errorf("onnxruntime: session config: %w", err)
		}
	}
	s.providers = nil
	if err := s.appendProviders(opts, req); err != nil {
		return err
	}
	inputs := append([]string{s.input}, s.overNames...)
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(data, inputs, []string{s.output}, opts)
	if err != nil {
		return fmt.Errorf("onnxruntime: create session for %s: %w", req.Path, err)
	}
	s.ort = sess
	return nil
}

// intraThreads is the intra-op thread count of a session that runs whole batches: the request's,
// or, when the host sends several batches at once and left threads to the runtime, the cores
// shared among those streams (0: ONNX Runtime's default, the physical cores). Several one-thread
// runs beat one run on all threads where decoders share the cores: a decoder that preempts one
// run stalls only that run, not every thread at the next barrier (bench/README.md, Chunks and
// threads). Chunked sessions run on one thread per run (chunkThreads of them at once).
func intraThreads(req sdk.LoadSpec) int {
	if req.IntraThreads > 0 || req.Streams <= 1 {
		return req.IntraThreads
	}
	return max(1, goruntime.NumCPU()/req.Streams)
}

// appendProviders adds the requested execution providers in order; a provider that cannot be
// set up is an error, or a warning when the request allows falling back.
func (s *session) appendProviders(opts *ort.SessionOptions, req sdk.LoadSpec) error {
	providers := req.Providers
	if len(providers) == 0 {
		providers = []string{"cpu"}
	}
	for _, p := range providers {
		var err error
		switch p {
		case "cpu":
		case "cuda":
			err = appendCUDA(opts, req)
		case "tensorrt":
			err = appendTensorRT(opts, req)
		default:
			err = fmt.Errorf("unknown execution provider %q (known: tensorrt, cuda, cpu)", p)
		}
		if err != nil {
			if !req.ProviderFallback {
				return fmt.Errorf("onnxruntime: execution provider %s is not available: %w (set runtime.fallback: true to use the next provider, or list only providers this machine has)", p, err)
			}
			s.warnings = append(s.warnings, fmt.Sprintf("execution provider %s is not available (%v); falling back", p, err))
			continue
		}
		s.providers = append(s.providers, p)
	}
	if !slices.Contains(s.providers, "cpu") {
		s.providers = append(s.providers, "cpu") // ONNX Runtime always falls back to its CPU kernels
	}
	return nil
}

func appendCUDA(opts *ort.SessionOptions, req sdk.LoadSpec) error {
	co, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return err
	}
	defer co.Destroy()
	settings := map[string]string{"device_id": strconv.Itoa(int(req.DeviceID))}
	for k, v := range req.ProviderOptions {
		settings[k] = v
	}
	if err := co.Update(settings); err != nil {
		return err
	}
	return opts.AppendExecutionProviderCUDA(co)
}

func appendTensorRT(opts *ort.SessionOptions, req sdk.LoadSpec) error {
	to, err := ort.NewTensorRTProviderOptions()
	if err != nil {
		return err
	}
	defer to.Destroy()
	settings := map[string]string{"device_id": strconv.Itoa(int(req.DeviceID))}
	for k, v := range req.ProviderOptions {
		settings[k] = v
	}
	if err := to.Update(settings); err != nil {
		return err
	}
	return opts.AppendExecutionProviderTensorRT(to)
}

// probe runs a zero batch of n images.
func (s *session) probe(n int) error {
	pix := make([]float32, n*3*s.h*s.w)
	_, _, err := s.run(pix, n)
	return err
}

// run feeds n images ([3,H,W] RGB in [0,1], back to back) and returns the flat output and the
// per-sample output size. With a chunk, the images run in chunks side by side, as many at once as
// there are slots, else as one run (one run per image for a graph that only runs batch 1).
func (s *session) run(pixels []float32, n int) ([]float32, int, error) {
	step := n
	switch {
	case s.chunk > 0:
		// Small batches (a dataset's last) are split so that every slot still gets a run.
		par := max(1, cap(s.slots)) // no slots yet while the model loads
		step = max(1, min(s.chunk, (n+par-1)/par))
	case s.batching == batchLoop:
		step = 1
	}
	if step >= n && s.slots == nil {
		return s.runOnce(nil, pixels, n)
	}
	k := 1
	for _, d := range s.outShape { // known since the probe at load
		k *= int(d)
	}
	per := 3 * s.h * s.w
	out := make([]float32, n*k)
	runs := (n + step - 1) / step
	errs := make([]error, runs)
	var wg sync.WaitGroup
	for j := range runs {
		i, m := j*step, min(step, n-j*step)
		one := func() {
			dst := out[i*k : i*k : (i+m)*k]
			// dst has exactly the room of m outputs: runOnce writes them in place
			_, kk, err := s.runOnce(dst, pixels[i*per:(i+m)*per], m)
			if err == nil && kk != k {
				err = fmt.Errorf("%d outputs per sample, %d at load", kk, k)
			}
			if err != nil {
				errs[j] = fmt.Errorf("samples %d–%d of %d: %w", i+1, i+m, n, err)
			}
		}
		if s.slots == nil {
			if one(); errs[j] != nil {
				return nil, 0, errs[j]
			}
			continue
		}
		s.slots <- struct{}{} // taken here, in order: a batch's runs start before a later batch's
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-s.slots }()
			one()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, 0, err
		}
	}
	return out, k, nil
}

// runOnce is one ONNX Runtime run of n images: it appends their flat output to dst and returns it
// with the per-sample output size.
func (s *session) runOnce(dst, pixels []float32, n int) ([]float32, int, error) {
	shape := ort.NewShape(int64(n), 3, int64(s.h), int64(s.w))
	if s.nhwc {
		shape = ort.NewShape(int64(n), int64(s.h), int64(s.w), 3)
	}
	mapped := s.inputBuffer(len(pixels))
	defer s.putInputBuffer(mapped)
	in, err := ort.NewTensor(shape, s.mapPixelsInto(mapped, pixels, n))
	if err != nil {
		return nil, 0, fmt.Errorf("input tensor: %w", err)
	}
	defer in.Destroy()
	inputs := []ort.Value{in}
	if len(s.overNames) > 0 {
		s.mu.RLock()
		defer s.mu.RUnlock()
		for _, name := range s.overNames {
			v := s.current[name]
			if v == nil {
				v = s.originals[name]
			}
			inputs = append(inputs, v)
		}
	}
	outputs := []ort.Value{nil}
	if err := s.ort.Run(inputs, outputs); err != nil {
		return nil, 0, err
	}
	defer outputs[0].Destroy()
	t, ok := outputs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, 0, fmt.Errorf("output %s is %T, want float32", s.output, outputs[0])
	}
	dims := t.GetShape()
	if len(dims) == 0 || dims[0] != int64(n) {
		return nil, 0, fmt.Errorf("output %s has shape %v for a batch of %d", s.output, dims, n)
	}
	s.shapeOnce.Do(func() { s.outShape = slices.Clone(dims[1:]) }) // concurrent runs must not write it
	got := t.GetData()
	out := append(dst, got...)
	if s.probs {
		data := out[len(dst):]
		for i, p := range data {
			data[i] = float32(math.Log(math.Max(float64(p), math.SmallestNonzeroFloat32)))
		}
	}
	return out, len(got) / n, nil
}

// inputBuffer returns a reused buffer of at least n values for a batch's mapped input: a fresh
// 19 MB buffer per 32-image batch would cost page faults and garbage collections (bench/).
func (s *session) inputBuffer(n int) []float32 {
	select {
	case b := <-s.inputs:
		if cap(b) >= n {
			return b[:n]
		}
	default:
	}
	return make([]float32, n)
}

// putInputBuffer keeps b for a later batch, or drops it when enough are kept (concurrent runs).
func (s *session) putInputBuffer(b []float32) {
	select {
	case s.inputs <- b:
	default:
	}
}

// mapPixels applies channel order, scale, mean and std, in the model's layout.
func (s *session) mapPixels(pixels []float32, n int) []float32 {
	return s.mapPixelsInto(make([]float32, len(pixels)), pixels, n)
}

// mapPixelsInto is mapPixels writing into out (len(out) == len(pixels)).
func (s *session) mapPixelsInto(out, pixels []float32, n int) []float32 {
	hw := s.h * s.w
	for i := 0; i < n; i++ {
		img := pixels[i*3*hw : (i+1)*3*hw]
		dst := out[i*3*hw : (i+1)*3*hw]
		for c := 0; c < 3; c++ {
			src := c
			if s.bgr {
				src = 2 - c
			}
			plane := img[src*hw : (src+1)*hw]
			sc, mean, inv := s.scale, s.mean[c], 1/s.std[c]
			if s.nhwc {
				for p, v := range plane {
					dst[p*3+c] = (v*sc - mean) * inv
				}
				continue
			}
			d := dst[c*hw : (c+1)*hw]
			d = d[:len(plane)] // the same length: no bounds check in the loop
			for p, v := range plane {
				d[p] = (v*sc - mean) * inv
			}
		}
	}
	return out
}

// setOverrides replaces the overrides in force (empty: the trained weights).
func (s *session) setOverrides(overrides []sdk.Override) error {
	// Every override is checked before any tensor is made, so a bad one leaks nothing.
	for _, o := range overrides {
		info, ok := s.overInfo[o.Name]
		if !ok {
			return fmt.Errorf("initializer %q was not declared overridable at load (overridable: %v)", o.Name, s.overNames)
		}
		if !slices.Equal(o.Dims, info.Dims) {
			return fmt.Errorf("override %s has shape %v, the initializer has %v", o.Name, o.Dims, info.Dims)
		}
		if len(o.Values) != int(info.Elements()) {
			return fmt.Errorf("override %s carries %d values, want %d", o.Name, len(o.Values), info.Elements())
		}
	}
	next := map[string]ort.Value{}
	for _, o := range overrides {
		info := s.overInfo[o.Name]
		v, err := newValue(info, o.Values)
		if err != nil {
			for _, v := range next {
				v.Destroy()
			}
			return err
		}
		if old := next[o.Name]; old != nil { // the same initializer twice: the last one holds
			old.Destroy()
		}
		next[o.Name] = v
	}
	s.mu.Lock()
	old := s.current
	s.current = next
	s.mu.Unlock()
	for _, v := range old {
		v.Destroy()
	}
	return nil
}

func (s *session) destroy() {
	if s.ort != nil {
		s.ort.Destroy()
		s.ort = nil
	}
}

// close frees everything the session holds.
func (s *session) close() {
	s.destroy()
	s.grads.close()
	for _, v := range s.current {
		v.Destroy()
	}
	for _, v := range s.originals {
		v.Destroy()
	}
}

// setPadding rewrites the model's Conv zero padding to mode (a variant of the trained model for
// the border analysis); "" and zeros keep it as trained.
func setPadding(m *onnx.Model, mode string) error {
	if mode == "" || mode == "zeros" {
		return nil
	}
	_, err := m.SetConvPadding(mode)
	return err
}
