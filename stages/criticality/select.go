package criticality

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
	"github.com/vistudy/vistudy/runtimes/onnx"
)

const batchNorm = "BatchNormalization"

// Select returns the layers to reset, in graph order: those named in layers, or every Conv, Gemm
// and MatMul layer with initializer weights (plus BatchNormalization with batchnorm: true).
func Select(m *onnx.Model, p params.Values) ([]onnx.Layer, error) {
	v, err := check(p)
	if err != nil {
		return nil, err
	}
	all := m.Layers()
	names := v.Strings(ParamLayers)
	if len(names) == 0 {
		var out []onnx.Layer
		for _, l := range all {
			if l.OpType != batchNorm || v.Bool(ParamBatchNorm) {
				out = append(out, l)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("criticality: select layers: the model has no Conv, Gemm or MatMul layer with initializer weights")
		}
		return out, nil
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []onnx.Layer
	for _, l := range all {
		if want[l.Name] {
			out = append(out, l)
			delete(want, l.Name)
		}
	}
	if len(want) > 0 {
		known := make([]string, len(all))
		for i, l := range all {
			known[i] = l.Name
		}
		missing := make([]string, 0, len(want))
		for n := range want {
			missing = append(missing, n)
		}
		slices.Sort(missing)
		return nil, fmt.Errorf("criticality: parameter %s: no weighted layer named %s (the model has: %s)",
			ParamLayers, strings.Join(missing, ", "), strings.Join(known, ", "))
	}
	return out, nil
}

// role is what an initializer is to its layer, which decides what a reset writes into it.
type role int

const (
	roleWeight   role = iota // Conv/Gemm/MatMul weight, BatchNormalization scale
	roleBias                 // bias, BatchNormalization B
	roleMean                 // BatchNormalization running mean
	roleVariance             // BatchNormalization running variance
)

// tensor is one initializer a reset replaces.
type tensor struct {
	name string
	dims []int64
	size int
	role role
}

// slot names an initializer of a layer and its role.
type slot struct {
	name string
	role role
}

// tensorsOf lists the initializers a reset of layer replaces: weight and bias, and for
// BatchNormalization also the running statistics.
func tensorsOf(m *onnx.Model, l onnx.Layer) ([]tensor, error) {
	if !l.DType.IsFloat() {
		return nil, fmt.Errorf("criticality: layer %q: weight %s is %s, not floating point", l.Name, l.Weight, l.DType)
	}
	infos := map[string]onnx.TensorInfo{}
	for _, t := range m.Initializers() {
		infos[t.Name] = t
	}
	slots := []slot{{l.Weight, roleWeight}, {l.Bias, roleBias}}
	if l.OpType == batchNorm {
		mean, variance, err := runningStats(m, l)
		if err != nil {
			return nil, err
		}
		slots = append(slots, slot{mean, roleMean}, slot{variance, roleVariance})
	}
	var out []tensor
	for _, n := range slots {
		if n.name == "" {
			continue
		}
		info, ok := infos[n.name]
		if !ok {
			return nil, fmt.Errorf("criticality: layer %q: %s is not an initializer", l.Name, n.name)
		}
		out = append(out, tensor{name: n.name, dims: info.Dims, size: int(info.Elements()), role: n.role})
	}
	return out, nil
}

// runningStats finds the running mean and variance initializers of a BatchNormalization layer.
func runningStats(m *onnx.Model, l onnx.Layer) (mean, variance string, err error) {
	for _, n := range m.Nodes() {
		if n.OpType == batchNorm && len(n.Inputs) >= 5 && n.Inputs[1] == l.Weight {
			return n.Inputs[3], n.Inputs[4], nil
		}
	}
	return "", "", fmt.Errorf("criticality: layer %q: no BatchNormalization node with scale %s and running statistics", l.Name, l.Weight)
}

// Overridable lists the initializers the runtime must be able to replace to reset layers
// (LoadRequest.Overridable), each once, in layer order.
func Overridable(m *onnx.Model, layers []onnx.Layer) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, l := range layers {
		ts, err := tensorsOf(m, l)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if !seen[t.name] {
				seen[t.name] = true
				out = append(out, t.name)
			}
		}
	}
	return out, nil
}

// LayerSeed derives a layer's seed from a stage seed, so that layers of the same shape draw
// different weights.
func LayerSeed(seed uint64, layer string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	h.Write([]byte(layer))
	return h.Sum64()
}

// deterministic reports whether every trial of a reset would draw the same values.
func deterministic(l onnx.Layer, init string) bool {
	return init == InitZeros || l.OpType == batchNorm
}

// draw returns the overrides of one reset of layer l: weights first, then bias, from rng. With
// InitZeros only the weight (BatchNormalization: the scale) is replaced, by zeros.
func draw(l onnx.Layer, ts []tensor, init string, rng *rand.Rand) []sdk.Override {
	var out []sdk.Override
	for _, t := range ts {
		var vals []float32
		switch {
		case init == InitZeros && t.role != roleWeight:
			continue
		case init == InitZeros:
			vals = make([]float32, t.size)
		case l.OpType == batchNorm && (t.role == roleWeight || t.role == roleVariance):
			vals = filled(t.size, 1)
		case l.OpType == batchNorm:
			vals = make([]float32, t.size)
		case t.role == roleWeight:
			vals = onnx.KaimingUniform(rng, l.FanIn, t.size)
		default:
			vals = onnx.BiasUniform(rng, l.FanIn, t.size)
		}
		out = append(out, override(t, vals))
	}
	return out
}

// filled returns n copies of v.
func filled(n int, v float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// override is values for initializer t, as the runtime takes them.
func override(t tensor, vals []float32) sdk.Override {
	return sdk.Override{Name: t.name, Dims: slices.Clone(t.dims), Values: vals}
}
