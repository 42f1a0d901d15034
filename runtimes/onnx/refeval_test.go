package onnx

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

// A float64 reference evaluator for the forward ops the gradient tests use, written from the
// ONNX operator specifications: finite differences of its loss have neither float32 round-off
// nor (with a tiny step) ReLU kinks, which ONNX Runtime's float32-only CPU Conv cannot give.

// ten is a float64 tensor.
type ten struct {
	shape []int64
	v     []float64
}

func (t ten) size() int64 { return product(t.shape) }

// strides of a row-major shape.
func stridesOf(shape []int64) []int64 {
	s := make([]int64, len(shape))
	acc := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// refModel evaluates a parsed model in float64.
type refModel struct {
	m      *Model
	consts map[string]ten
	ints   map[string][]int64
}

func newRefModel(t testing.TB, m *Model) *refModel {
	r := &refModel{m: m, consts: map[string]ten{}, ints: map[string][]int64{}}
	for _, name := range m.names {
		tm := m.inits[name]
		info, _ := tensorHeader(tm)
		if info.DType == Int64 {
			b := &gradBuilder{m: m, a: &analysis{}}
			v, _ := b.constInts(name)
			r.ints[name] = v
			continue
		}
		vals, err := m.decodeFloats(tm, info)
		if err != nil {
			t.Fatal(err)
		}
		r.consts[name] = ten{info.Dims, f64(vals)}
	}
	return r
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// run evaluates the graph on input x and returns tensor out.
func (r *refModel) run(input string, x ten, out string) (ten, error) {
	env := map[string]ten{input: x}
	for k, v := range r.consts {
		env[k] = v
	}
	ints := map[string][]int64{}
	for k, v := range r.ints {
		ints[k] = v
	}
	nodes, _ := r.m.nodes()
	for _, n := range nodes {
		op, in, outs := n.str(nodeOpType), n.strs(nodeInput), n.strs(nodeOutput)
		if op == "Constant" {
			a := nodeAttrs(n)["value"]
			t, _ := a.lastChild(attrT)
			info, _ := tensorHeader(t)
			if info.DType == Int64 {
				b := &gradBuilder{m: r.m, a: &analysis{nodes: []*message{n}}}
				ints[outs[0]], _ = b.constInts(outs[0])
				continue
			}
			vals, err := r.m.decodeFloats(t, info)
			if err != nil {
				return ten{}, err
			}
			env[outs[0]] = ten{info.Dims, f64(vals)}
			continue
		}
		args := make([]ten, len(in))
		for i, name := range in {
			args[i] = env[name]
		}
		if (op == "Softmax" || op == "LogSoftmax") && r.m.OpsetVersion() < 13 {
			// opsets < 13 flatten to 2-D at axis (default 1) and normalise the second dimension
			axis := attrInt(n, "axis", 1)
			x := args[0]
			flat := ten{[]int64{product(x.shape[:axis]), product(x.shape[axis:])}, x.v}
			y, err := evalOp(newMessage(), op, []ten{flat}, in, ints)
			if err != nil {
				return ten{}, err
			}
			env[outs[0]] = ten{x.shape, y.v}
			if outs[0] == out {
				return env[out], nil
			}
			continue
		}
		y, err := evalOp(n, op, args, in, ints)
		if err != nil {
			return ten{}, fmt.Errorf("node %q (%s): %w", n.str(nodeName), op, err)
		}
		env[outs[0]] = y
		if outs[0] == out {
			return y, nil
		}
	}
	return ten{}, fmt.Errorf("tensor %q not computed", out)
}

func unary(x ten, f func(float64) float64) ten {
	out := ten{slices.Clone(x.shape), make([]float64, len(x.v))}
	for i, v := range x.v {
		out.v[i] = f(v)
	}
	return out
}

// broadcast applies f elementwise with numpy broadcasting.
func broadcast(a, b ten, f func(x, y float64) float64) ten {
	r := max(len(a.shape), len(b.shape))
	pad := func(s []int64) []int64 { return append(slices.Repeat([]int64{1}, r-len(s)), s...) }
	sa, sb := pad(a.shape), pad(b.shape)
	shape := make([]int64, r)
	for i := range shape {
		shape[i] = max(sa[i], sb[i])
	}
	sta, stb, st := stridesOf(sa), stridesOf(sb), stridesOf(shape)
	out := ten{shape, make([]float64, product(shape))}
	for i := range out.v {
		ia, ib, rem := int64(0), int64(0), int64(i)
		for d := 0; d < r; d++ {
			c := rem / st[d]
			rem %= st[d]
			if sa[d] > 1 {
				ia += c * sta[d]
			}
			if sb[d] > 1 {
				ib += c * stb[d]
			}
		}
		out.v[i] = f(a.v[ia], b.v[ib])
	}
	return out
}

func evalOp(n *message, op string, a []ten, in []string, ints map[string][]int64) (ten, error) {
	x := a[0]
	switch op {
	case "Identity", "Dropout", "Cast":
		return x, nil
	case "Relu":
		return unary(x, func(v float64) float64 { return math.Max(v, 0) }), nil
	case "LeakyRelu":
		al := float64(attrFloatOf(n, "alpha", 0.01))
		return unary(x, func(v float64) float64 {
			if v > 0 {
				return v
			}
			return al * v
		}), nil
	case "Neg":
		return unary(x, func(v float64) float64 { return -v }), nil
	case "Tanh":
		return unary(x, math.Tanh), nil
	case "Sqrt":
		return unary(x, math.Sqrt), nil
	case "Sigmoid":
		return unary(x, func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }), nil
	case "HardSigmoid":
		al, be := float64(attrFloatOf(n, "alpha", 0.2)), float64(attrFloatOf(n, "beta", 0.5))
		return unary(x, func(v float64) float64 { return math.Max(0, math.Min(1, al*v+be)) }), nil
	case "HardSwish":
		return unary(x, func(v float64) float64 { return v * math.Max(0, math.Min(1, v/6+0.5)) }), nil
	case "Clip":
		lo, hi := math.Inf(-1), math.Inf(1)
		if nodeAttrs(n)["min"] != nil {
			lo = float64(attrFloatOf(n, "min", 0))
		}
		if nodeAttrs(n)["max"] != nil {
			hi = float64(attrFloatOf(n, "max", 0))
		}
		if len(a) > 1 && in[1] != "" {
			lo = a[1].v[0]
		}
		if len(a) > 2 && in[2] != "" {
			hi = a[2].v[0]
		}
		return unary(x, func(v float64) float64 { return math.Max(lo, math.Min(hi, v)) }), nil
	case "Add", "Sum":
		y := x
		for _, b := range a[1:] {
			y = broadcast(y, b, func(p, q float64) float64 { return p + q })
		}
		return y, nil
	case "Sub":
		return broadcast(x, a[1], func(p, q float64) float64 { return p - q }), nil
	case "Mul":
		return broadcast(x, a[1], func(p, q float64) float64 { return p * q }), nil
	case "Div":
		return broadcast(x, a[1], func(p, q float64) float64 { return p / q }), nil
	case "Flatten":
		axis := attrInt(n, "axis", 1)
		return ten{[]int64{product(x.shape[:axis]), product(x.shape[axis:])}, x.v}, nil
	case "Reshape":
		shape := slices.Clone(ints[in[1]])
		for i, d := range shape {
			if d == 0 {
				shape[i] = x.shape[i]
			}
		}
		if i := slices.Index(shape, -1); i >= 0 {
			shape[i] = 1
			shape[i] = x.size() / product(shape)
		}
		return ten{shape, x.v}, nil
	case "Squeeze":
		axes := ints[in[1]]
		var shape []int64
		for i, d := range x.shape {
			if !slices.Contains(axes, int64(i)) {
				shape = append(shape, d)
			}
		}
		return ten{shape, x.v}, nil
	case "Unsqueeze":
		shape := slices.Clone(x.shape)
		for _, ax := range ints[in[1]] {
			shape = slices.Insert(shape, int(ax), 1)
		}
		return ten{shape, x.v}, nil
	case "Transpose":
		perm := attrIntsOf(n, "perm")
		shape := make([]int64, len(perm))
		for i, p := range perm {
			shape[i] = x.shape[p]
		}
		sx, so := stridesOf(x.shape), stridesOf(shape)
		out := ten{shape, make([]float64, len(x.v))}
		for i := range out.v {
			src, rem := int64(0), int64(i)
			for d := range shape {
				c := rem / so[d]
				rem %= so[d]
				src += c * sx[perm[d]]
			}
			out.v[i] = x.v[src]
		}
		return out, nil
	case "Concat":
		axis := attrInt(n, "axis", 1)
		if axis < 0 {
			axis += int64(len(x.shape))
		}
		shape := slices.Clone(x.shape)
		shape[axis] = 0
		for _, t := range a {
			shape[axis] += t.shape[axis]
		}
		outer := product(shape[:axis])
		out := ten{shape, nil}
		for o := int64(0); o < outer; o++ {
			for _, t := range a {
				blk := product(t.shape[axis:])
				out.v = append(out.v, t.v[o*blk:(o+1)*blk]...)
			}
		}
		return out, nil
	case "Gemm":
		A, B := x, a[1]
		ta, tb := attrInt(n, "transA", 0) != 0, attrInt(n, "transB", 0) != 0
		al, be := float64(attrFloatOf(n, "alpha", 1)), float64(attrFloatOf(n, "beta", 1))
		m, k := A.shape[0], A.shape[1]
		if ta {
			m, k = k, m
		}
		nn := B.shape[1]
		if tb {
			nn = B.shape[0]
		}
		out := ten{[]int64{m, nn}, make([]float64, m*nn)}
		for i := int64(0); i < m; i++ {
			for j := int64(0); j < nn; j++ {
				s := 0.0
				for p := int64(0); p < k; p++ {
					av, bv := A.v[i*k+p], B.v[p*nn+j]
					if ta {
						av = A.v[p*m+i]
					}
					if tb {
						bv = B.v[j*k+p]
					}
					s += av * bv
				}
				out.v[i*nn+j] = al * s
			}
		}
		if len(a) > 2 && in[2] != "" {
			out = broadcast(out, unary(a[2], func(v float64) float64 { return be * v }), func(p, q float64) float64 { return p + q })
		}
		return out, nil
	case "MatMul":
		B := a[1] // [K, M]
		k, mm := B.shape[0], B.shape[1]
		rows := x.size() / k
		out := ten{append(slices.Clone(x.shape[:len(x.shape)-1]), mm), make([]float64, rows*mm)}
		for i := int64(0); i < rows; i++ {
			for j := int64(0); j < mm; j++ {
				s := 0.0
				for p := int64(0); p < k; p++ {
					s += x.v[i*k+p] * B.v[p*mm+j]
				}
				out.v[i*mm+j] = s
			}
		}
		return out, nil
	case "BatchNormalization":
		eps := float64(attrFloatOf(n, "epsilon", 1e-5))
		c, hw := x.shape[1], product(x.shape[2:])
		out := ten{slices.Clone(x.shape), make([]float64, len(x.v))}
		for i := range out.v {
			ch := (int64(i) / hw) % c
			out.v[i] = (x.v[i]-a[3].v[ch])/math.Sqrt(a[4].v[ch]+eps)*a[1].v[ch] + a[2].v[ch]
		}
		return out, nil
	case "GlobalAveragePool":
		nc, hw := x.shape[0]*x.shape[1], product(x.shape[2:])
		out := ten{[]int64{x.shape[0], x.shape[1], 1, 1}, make([]float64, nc)}
		for i := int64(0); i < nc; i++ {
			s := 0.0
			for _, v := range x.v[i*hw : (i+1)*hw] {
				s += v
			}
			out.v[i] = s / float64(hw)
		}
		return out, nil
	case "Softmax", "LogSoftmax":
		axis := attrInt(n, "axis", -1)
		if axis < 0 {
			axis += int64(len(x.shape))
		}
		inner, dim := product(x.shape[axis+1:]), x.shape[axis]
		out := ten{slices.Clone(x.shape), make([]float64, len(x.v))}
		for o := int64(0); o < product(x.shape[:axis]); o++ {
			for q := int64(0); q < inner; q++ {
				at := func(j int64) int64 { return (o*dim+j)*inner + q }
				mx := math.Inf(-1)
				for j := int64(0); j < dim; j++ {
					mx = math.Max(mx, x.v[at(j)])
				}
				s := 0.0
				for j := int64(0); j < dim; j++ {
					s += math.Exp(x.v[at(j)] - mx)
				}
				for j := int64(0); j < dim; j++ {
					if op == "Softmax" {
						out.v[at(j)] = math.Exp(x.v[at(j)]-mx) / s
					} else {
						out.v[at(j)] = x.v[at(j)] - mx - math.Log(s)
					}
				}
			}
		}
		return out, nil
	case "Pad":
		pads := ints[in[1]]
		mode := attrStringOf(n, "mode", "constant")
		r := len(x.shape)
		shape := make([]int64, r)
		for i := range shape {
			shape[i] = x.shape[i] + pads[i] + pads[r+i]
		}
		sx, so := stridesOf(x.shape), stridesOf(shape)
		out := ten{shape, make([]float64, product(shape))}
		for i := range out.v {
			src, rem, inside := int64(0), int64(i), true
			for d := 0; d < r; d++ {
				c := rem/so[d] - pads[d]
				rem %= so[d]
				L := x.shape[d]
				switch {
				case c >= 0 && c < L:
				case mode == "edge":
					c = min(max(c, 0), L-1)
				case mode == "reflect":
					c = int64(math.Abs(float64(c)))
					if c > L-1 {
						c = 2*(L-1) - c
					}
				default:
					inside = false
				}
				src += c * sx[d]
			}
			if inside {
				out.v[i] = x.v[src]
			}
		}
		return out, nil
	case "Slice":
		out := x
		starts, ends := ints[in[1]], ints[in[2]]
		axes := make([]int64, len(starts))
		for i := range axes {
			axes[i] = int64(i)
		}
		if len(in) > 3 && in[3] != "" {
			axes = ints[in[3]]
		}
		for i, ax := range axes {
			if ax < 0 {
				ax += int64(len(out.shape))
			}
			l := out.shape[ax]
			norm := func(v int64) int64 {
				if v < 0 {
					v += l
				}
				return min(max(v, 0), l)
			}
			s, e := norm(starts[i]), norm(ends[i])
			shape := slices.Clone(out.shape)
			shape[ax] = max(e-s, 0)
			outer, inner := product(out.shape[:ax]), product(out.shape[ax+1:])
			next := ten{shape, nil}
			for o := int64(0); o < outer; o++ {
				next.v = append(next.v, out.v[(o*l+s)*inner:(o*l+s+shape[ax])*inner]...)
			}
			out = next
		}
		return out, nil
	case "Conv", "MaxPool", "AveragePool":
		return window(n, op, a, in)
	}
	return ten{}, fmt.Errorf("reference evaluator has no %s", op)
}

// window evaluates 2-D Conv, MaxPool and AveragePool (NCHW) with strides, pads, dilations, groups, auto_pad.
func window(n *message, op string, a []ten, in []string) (ten, error) {
	x := a[0]
	N, C, H, W := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	kernel := attrIntsOf(n, "kernel_shape")
	if kernel == nil {
		kernel = a[1].shape[2:]
	}
	strides, dil := windowAttrs(n, kernel)
	pads := attrIntsOf(n, "pads")
	if pads == nil {
		pads = make([]int64, 4)
	}
	size := [2]int64{H, W}
	if ap := attrStringOf(n, "auto_pad", "NOTSET"); ap == "SAME_UPPER" || ap == "SAME_LOWER" {
		for i := 0; i < 2; i++ {
			o := (size[i] + strides[i] - 1) / strides[i]
			total := max(0, (o-1)*strides[i]+(kernel[i]-1)*dil[i]+1-size[i])
			pads[i], pads[2+i] = total/2, total-total/2
			if ap == "SAME_LOWER" {
				pads[i], pads[2+i] = total-total/2, total/2
			}
		}
	}
	var out [2]int64
	for i := 0; i < 2; i++ {
		out[i] = (size[i]+pads[i]+pads[2+i]-((kernel[i]-1)*dil[i]+1))/strides[i] + 1
	}
	group, F := attrInt(n, "group", 1), C
	if op == "Conv" {
		F = a[1].shape[0]
	}
	res := ten{[]int64{N, F, out[0], out[1]}, make([]float64, N*F*out[0]*out[1])}
	cpg := C / group
	includePad := attrInt(n, "count_include_pad", 0) != 0
	hasBias := op == "Conv" && len(a) > 2 && in[2] != ""
	kh, kw := kernel[0], kernel[1]
	for b := int64(0); b < N; b++ {
		for f := int64(0); f < F; f++ {
			c0, c1 := f, f+1
			if op == "Conv" {
				g := f / (F / group)
				c0, c1 = g*cpg, (g+1)*cpg
			}
			for oy := int64(0); oy < out[0]; oy++ {
				for ox := int64(0); ox < out[1]; ox++ {
					acc, cnt, mx := 0.0, 0.0, math.Inf(-1)
					for c := c0; c < c1; c++ {
						plane := x.v[(b*C+c)*H*W : (b*C+c+1)*H*W]
						var wk []float64
						if op == "Conv" {
							wk = a[1].v[(f*cpg+c-c0)*kh*kw : (f*cpg+c-c0+1)*kh*kw]
						}
						for ky := int64(0); ky < kh; ky++ {
							iy := oy*strides[0] - pads[0] + ky*dil[0]
							for kx := int64(0); kx < kw; kx++ {
								ix := ox*strides[1] - pads[1] + kx*dil[1]
								if iy < 0 || iy >= H || ix < 0 || ix >= W {
									if includePad {
										cnt++
									}
									continue
								}
								v := plane[iy*W+ix]
								switch op {
								case "Conv":
									acc += v * wk[ky*kw+kx]
								case "MaxPool":
									mx = math.Max(mx, v)
								default:
									acc += v
									cnt++
								}
							}
						}
					}
					o := ((b*F+f)*out[0]+oy)*out[1] + ox
					switch op {
					case "Conv":
						if hasBias {
							acc += a[2].v[f]
						}
						res.v[o] = acc
					case "MaxPool":
						res.v[o] = mx
					default:
						res.v[o] = acc / cnt
					}
				}
			}
		}
	}
	return res, nil
}

// refLoss is the per-sample loss of logits z [N, K] (flattened) for labels, as the gradient model defines it.
func refLoss(z ten, labels []int64, loss string, probabilities bool) []float64 {
	n := z.shape[0]
	k := z.size() / n
	out := make([]float64, n)
	for i := int64(0); i < n; i++ {
		row := slices.Clone(z.v[i*k : (i+1)*k])
		if probabilities {
			for j := range row {
				row[j] = math.Log(math.Max(row[j], math.SmallestNonzeroFloat32))
			}
		}
		y := labels[i]
		if loss == LossMargin {
			best := math.Inf(-1)
			for j, v := range row {
				if int64(j) != y {
					best = math.Max(best, v)
				}
			}
			out[i] = row[y] - best
			continue
		}
		mx := slices.Max(row)
		s := 0.0
		for _, v := range row {
			s += math.Exp(v - mx)
		}
		out[i] = mx + math.Log(s) - row[y]
	}
	return out
}
