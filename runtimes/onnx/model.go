package onnx

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// Model is an ONNX model: the encoded bytes plus a light tree of the parts this package reads.
// Parts nobody changed are written back byte for byte. A Model is not safe for concurrent use.
type Model struct {
	path  string // the file it was opened from; "" after Parse
	dir   string // folder external data is resolved against; "" when unknown
	unmap func() error
	root  *message // ModelProto
	graph *message // ModelProto.graph
	inits map[string]*message
	names []string // initializer names in graph order
}

// Opset is one entry of ModelProto.opset_import.
type Opset struct {
	Domain  string // "" or "ai.onnx" is the default ONNX operator set
	Version int64
}

// Dim is one dimension of a tensor shape: a fixed Value, a symbolic Param, or unknown (Value -1, Param "").
type Dim struct {
	Value int64
	Param string
}

// String prints the value, the parameter name, or "?" for an unknown dimension.
func (d Dim) String() string {
	switch {
	case d.Param != "":
		return d.Param
	case d.Value < 0:
		return "?"
	}
	return strconv.FormatInt(d.Value, 10)
}

// ValueInfo is a graph input, output or annotated intermediate tensor. Dims is nil when the shape is unknown.
type ValueInfo struct {
	Name     string
	ElemType DType
	Dims     []Dim
}

// Node is one graph node as this package sees it.
type Node struct {
	Name    string
	OpType  string
	Domain  string
	Inputs  []string // "" marks an omitted optional input
	Outputs []string
}

// Open maps the model file read-only and parses it; external data is resolved in the file's folder.
// Call Close when done.
func Open(path string) (*Model, error) {
	data, unmap, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("open onnx model %s: %w", path, err)
	}
	m, err := Parse(data, filepath.Dir(path))
	if err != nil {
		unmap()
		return nil, fmt.Errorf("open onnx model %s: %w", path, err)
	}
	m.path = path
	m.unmap = unmap
	return m, nil
}

// Parse reads an encoded ModelProto without copying data, which must stay unchanged while the
// Model is in use. dir is the folder external tensor data lives in ("" when there is none).
func Parse(data []byte, dir string) (*Model, error) {
	root, err := parseMessage(data)
	if err != nil {
		return nil, fmt.Errorf("parse ModelProto: %w", err)
	}
	graph, err := root.lastChild(modelGraph)
	if err != nil {
		return nil, fmt.Errorf("parse ModelProto.graph: %w", err)
	}
	if graph == nil {
		return nil, errors.New("parse ModelProto: no graph")
	}
	if _, err := root.children(modelOpsetImport); err != nil {
		return nil, fmt.Errorf("parse ModelProto.opset_import: %w", err)
	}
	m := &Model{dir: dir, root: root, graph: graph, inits: map[string]*message{}}
	tensors, err := graph.children(graphInitializer)
	if err != nil {
		return nil, fmt.Errorf("parse GraphProto.initializer: %w", err)
	}
	for i, t := range tensors {
		name := t.str(tensorName)
		if name == "" {
			return nil, fmt.Errorf("parse GraphProto.initializer %d: no name", i)
		}
		if _, dup := m.inits[name]; dup {
			return nil, fmt.Errorf("parse GraphProto.initializer %q: name used twice", name)
		}
		if _, err := tensorHeader(t); err != nil {
			return nil, fmt.Errorf("parse initializer %q: %w", name, err)
		}
		if err := m.checkExternal(name, t); err != nil {
			return nil, err
		}
		m.inits[name] = t
		m.names = append(m.names, name)
	}
	if _, err := m.inputs(); err != nil {
		return nil, fmt.Errorf("parse GraphProto.input: %w", err)
	}
	if _, err := m.valueInfos(graphOutput); err != nil {
		return nil, fmt.Errorf("parse GraphProto.output: %w", err)
	}
	nodes, err := m.nodes()
	if err != nil {
		return nil, fmt.Errorf("parse GraphProto.node: %w", err)
	}
	for i, n := range nodes {
		if _, err := n.children(nodeAttribute); err != nil {
			return nil, fmt.Errorf("parse node %d (%q) attributes: %w", i, n.str(nodeName), err)
		}
	}
	return m, nil
}

// Close releases the file mapping; the Model must not be used afterwards.
func (m *Model) Close() error {
	if m.unmap == nil {
		return nil
	}
	err := m.unmap()
	m.unmap = nil
	m.root, m.graph, m.inits = nil, nil, nil
	if err != nil {
		return fmt.Errorf("close onnx model %s: %w", m.path, err)
	}
	return nil
}

// Marshal encodes the model: the input bytes unchanged where nothing was modified.
func (m *Model) Marshal() ([]byte, error) {
	b, err := m.root.marshal()
	if err != nil {
		return nil, fmt.Errorf("marshal onnx model: %w", err)
	}
	return b, nil
}

// WriteFile writes the model to path atomically (a temporary file in the same folder, then rename).
// Tensors whose data is still external must keep their folder: writing elsewhere is refused.
func (m *Model) WriteFile(path string) (err error) {
	if ext := m.externalNames(); len(ext) > 0 && m.dir != "" {
		same, serr := sameDir(filepath.Dir(path), m.dir)
		if serr != nil || !same {
			return fmt.Errorf("write onnx model %s: tensor %q keeps its data in files of %s; write the model there",
				path, ext[0], m.dir)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write onnx model %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err := m.root.encodeTo(w); err != nil {
		return fmt.Errorf("write onnx model %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write onnx model %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write onnx model %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write onnx model %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write onnx model %s: %w", path, err)
	}
	return nil
}

// sameDir reports whether a and b name the same folder.
func sameDir(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}

// IRVersion is ModelProto.ir_version.
func (m *Model) IRVersion() int64 { return m.root.int(modelIRVersion) }

// Opsets lists ModelProto.opset_import.
func (m *Model) Opsets() []Opset {
	subs, _ := m.root.children(modelOpsetImport) // decoded and checked by Parse
	out := make([]Opset, len(subs))
	for i, s := range subs {
		out[i] = Opset{Domain: s.str(opsetDomain), Version: s.int(opsetVersion)}
	}
	return out
}

// OpsetVersion is the imported version of the default ONNX operator set, 0 when none is imported.
func (m *Model) OpsetVersion() int64 {
	for _, o := range m.Opsets() {
		if o.Domain == "" || o.Domain == "ai.onnx" {
			return o.Version
		}
	}
	return 0
}

// Inputs lists the graph inputs that are not initializers, in graph order.
func (m *Model) Inputs() []ValueInfo {
	out, _ := m.inputs() // decoded and checked by Parse
	return out
}

// inputs decodes the graph inputs that are not initializers; the others are not decoded at all.
func (m *Model) inputs() ([]ValueInfo, error) {
	subs, err := m.graph.children(graphInput)
	if err != nil {
		return nil, err
	}
	var out []ValueInfo
	for _, s := range subs {
		if m.isInit(s.str(valueInfoName)) {
			continue
		}
		v, err := decodeValueInfo(s)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// inputNames lists the names of all graph inputs, initializers included.
func (m *Model) inputNames() []string {
	subs, _ := m.graph.children(graphInput) // decoded by Parse
	out := make([]string, len(subs))
	for i, s := range subs {
		out[i] = s.str(valueInfoName)
	}
	return out
}

// Outputs lists the graph outputs in graph order.
func (m *Model) Outputs() []ValueInfo {
	out, _ := m.valueInfos(graphOutput) // decoded and checked by Parse
	return out
}

// Nodes lists the graph's nodes in graph (topological) order.
func (m *Model) Nodes() []Node {
	subs, _ := m.nodes() // decoded and checked by Parse
	out := make([]Node, len(subs))
	for i, n := range subs {
		out[i] = Node{
			Name: n.str(nodeName), OpType: n.str(nodeOpType), Domain: n.str(nodeDomain),
			Inputs: n.strs(nodeInput), Outputs: n.strs(nodeOutput),
		}
	}
	return out
}

// nodes returns the NodeProto messages of the graph.
func (m *Model) nodes() ([]*message, error) { return m.graph.children(graphNode) }

// valueInfos decodes the ValueInfoProto list num of the graph (value_info is decoded only here, on demand).
func (m *Model) valueInfos(num protowire.Number) ([]ValueInfo, error) {
	subs, err := m.graph.children(num)
	if err != nil {
		return nil, err
	}
	out := make([]ValueInfo, 0, len(subs))
	for _, s := range subs {
		v, err := decodeValueInfo(s)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// decodeValueInfo reads name, element type and shape of a ValueInfoProto.
func decodeValueInfo(s *message) (ValueInfo, error) {
	v := ValueInfo{Name: s.str(valueInfoName)}
	tt, err := tensorTypeOf(s)
	if err != nil || tt == nil {
		return v, wrapName(v.Name, err)
	}
	v.ElemType = DType(tt.int(tensorTypeElem))
	shape, err := tt.lastChild(tensorTypeShape)
	if err != nil || shape == nil {
		return v, wrapName(v.Name, err)
	}
	dims, err := shape.children(shapeDim)
	if err != nil {
		return v, wrapName(v.Name, err)
	}
	v.Dims = make([]Dim, len(dims))
	for i, d := range dims {
		switch {
		case d.has(dimParam) && d.last(dimParam) > d.last(dimValue):
			v.Dims[i] = Dim{Param: d.str(dimParam)}
		case d.has(dimValue):
			v.Dims[i] = Dim{Value: d.int(dimValue)}
		default:
			v.Dims[i] = Dim{Value: -1}
		}
	}
	return v, nil
}

// tensorTypeOf returns ValueInfoProto.type.tensor_type, nil when the value is not a tensor.
func tensorTypeOf(vi *message) (*message, error) {
	typ, err := vi.lastChild(valueInfoType)
	if err != nil || typ == nil {
		return nil, err
	}
	return typ.lastChild(typeTensor)
}

// wrapName adds the value name to a decoding error.
func wrapName(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("value %q: %w", name, err)
}
