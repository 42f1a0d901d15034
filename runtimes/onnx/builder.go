package onnx

import "fmt"

// Names of the tensors in the model a Classifier encodes.
const (
	ClassifierInput  = "input"  // image batch [N, C, H, W]
	ClassifierOutput = "logits" // class scores [N, Classes]
	ClassifierPooled = "pooled" // Flatten output [N, Filters]: an intermediate to expose
	ClassifierBatch  = "N"      // symbolic batch dimension when Batch is 0
)

// Classifier describes a tiny image classifier, Conv (stride 1, same padding) → Relu →
// GlobalAveragePool → Flatten → Gemm (transB = 1, as PyTorch exports Linear), that Encode turns
// into an ONNX model (IR 8, opset 13). Tests of packages that run models build known models with it.
type Classifier struct {
	DType                   DType // Float32 or Float16, for the input, the weights and the output
	Batch                   int64 // fixed batch size; 0 makes dimension 0 the symbolic ClassifierBatch
	Channels, Height, Width int64
	Filters, Kernel         int64 // Kernel must be odd (same padding: Kernel/2 on each side)
	Classes                 int64
	ConvWeight              []float32 // [Filters, Channels, Kernel, Kernel], initializer "conv.weight"
	ConvBias                []float32 // [Filters], initializer "conv.bias"
	FCWeight                []float32 // [Classes, Filters], initializer "fc.weight"
	FCBias                  []float32 // [Classes], initializer "fc.bias"
	// BatchCentred subtracts the batch's mean logits (ReduceMean over axis 0): a graph whose outputs
	// for one sample depend on the others in its batch.
	BatchCentred bool
}

// Encode returns the encoded ModelProto.
func (c Classifier) Encode() ([]byte, error) {
	if c.DType != Float32 && c.DType != Float16 {
		return nil, fmt.Errorf("encode classifier: type %s; only float32 and float16 are built", c.DType)
	}
	if c.Kernel%2 != 1 {
		return nil, fmt.Errorf("encode classifier: kernel %d is not odd", c.Kernel)
	}
	weights := []struct {
		name string
		dims []int64
		vals []float32
	}{
		{"conv.weight", []int64{c.Filters, c.Channels, c.Kernel, c.Kernel}, c.ConvWeight},
		{"conv.bias", []int64{c.Filters}, c.ConvBias},
		{"fc.weight", []int64{c.Classes, c.Filters}, c.FCWeight},
		{"fc.bias", []int64{c.Classes}, c.FCBias},
	}
	graph := newMessage()
	p := c.Kernel / 2
	fcOut := ClassifierOutput
	if c.BatchCentred {
		fcOut = "fc_out"
	}
	graph.fields = append(graph.fields,
		messageField(graphNode, nodeMessage("conv", "Conv", []string{ClassifierInput, "conv.weight", "conv.bias"}, []string{"conv_out"},
			intsAttr("kernel_shape", c.Kernel, c.Kernel), intsAttr("pads", p, p, p, p), intsAttr("strides", 1, 1))),
		messageField(graphNode, nodeMessage("relu", "Relu", []string{"conv_out"}, []string{"relu_out"})),
		messageField(graphNode, nodeMessage("pool", "GlobalAveragePool", []string{"relu_out"}, []string{"pool_out"})),
		messageField(graphNode, nodeMessage("flatten", "Flatten", []string{"pool_out"}, []string{ClassifierPooled}, intAttr("axis", 1))),
		messageField(graphNode, nodeMessage("fc", "Gemm", []string{ClassifierPooled, "fc.weight", "fc.bias"}, []string{fcOut},
			intAttr("transB", 1))),
		stringField(graphName, "classifier"),
	)
	if c.BatchCentred {
		graph.fields = append(graph.fields,
			messageField(graphNode, nodeMessage("batch_mean", "ReduceMean", []string{fcOut}, []string{"batch_mean"},
				intsAttr("axes", 0), intAttr("keepdims", 1))),
			messageField(graphNode, nodeMessage("centre", "Sub", []string{fcOut, "batch_mean"}, []string{ClassifierOutput})))
	}
	for _, w := range weights {
		t, err := tensorMessage(w.name, c.DType, w.dims, w.vals)
		if err != nil {
			return nil, fmt.Errorf("encode classifier: %w", err)
		}
		graph.fields = append(graph.fields, messageField(graphInitializer, t))
	}
	batch := Dim{Value: c.Batch}
	if c.Batch == 0 {
		batch = Dim{Param: ClassifierBatch}
	}
	graph.fields = append(graph.fields,
		messageField(graphInput, valueInfoMessage(ClassifierInput, c.DType,
			[]Dim{batch, {Value: c.Channels}, {Value: c.Height}, {Value: c.Width}})),
		messageField(graphOutput, valueInfoMessage(ClassifierOutput, c.DType, []Dim{batch, {Value: c.Classes}})),
	)
	return modelMessage(8, 13, graph).marshal()
}

// modelMessage builds a ModelProto importing the default operator set at opset.
func modelMessage(ir, opset int64, graph *message) *message {
	return newMessage(
		varintField(modelIRVersion, ir),
		messageField(modelGraph, graph),
		messageField(modelOpsetImport, newMessage(varintField(opsetVersion, opset))),
	)
}

// tensorMessage builds a TensorProto holding vals as raw_data of type dt.
func tensorMessage(name string, dt DType, dims []int64, vals []float32) (*message, error) {
	if int64(len(vals)) != product(dims) {
		return nil, fmt.Errorf("tensor %q: %d values for shape %v", name, len(vals), dims)
	}
	raw, err := encodeRaw(vals, dt)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	return newMessage(
		packedVarints(tensorDims, dims),
		varintField(tensorDataType, int64(dt)),
		stringField(tensorName, name),
		bytesField(tensorRawData, raw),
	), nil
}

// nodeMessage builds a NodeProto of the default domain.
func nodeMessage(name, op string, inputs, outputs []string, attrs ...*message) *message {
	n := newMessage()
	for _, in := range inputs {
		n.fields = append(n.fields, stringField(nodeInput, in))
	}
	for _, out := range outputs {
		n.fields = append(n.fields, stringField(nodeOutput, out))
	}
	n.fields = append(n.fields, stringField(nodeName, name), stringField(nodeOpType, op))
	for _, a := range attrs {
		n.fields = append(n.fields, messageField(nodeAttribute, a))
	}
	return n
}

// intAttr builds an INT AttributeProto.
func intAttr(name string, v int64) *message {
	return newMessage(stringField(attrName, name), varintField(attrI, v), varintField(attrType, attrTypeI))
}

// intsAttr builds an INTS AttributeProto.
func intsAttr(name string, vs ...int64) *message {
	return newMessage(stringField(attrName, name), packedVarints(attrInts, vs), varintField(attrType, attrTypeInts))
}
