// Package onnx is the one place in vistudy that knows the ONNX graph: it reads and rewrites
// ModelProto files directly on the protobuf wire format (google.golang.org/protobuf/encoding/protowire
// with the field numbers of onnx.proto written out as constants), without generated code.
//
// What it knows:
//   - model facts: IR version, opset imports, graph inputs (initializers excluded) and outputs with
//     element type and fixed or symbolic dimensions, the node list;
//   - the weighted layers (Conv, Gemm, MatMul with initializer weights, BatchNormalization) with
//     fan-in, parameter count and (relative) depth, and the 3×3 kernels of Conv layers;
//   - initializer values stored as float32, float16, bfloat16 or float64, in raw_data, in the typed
//     fields (float16 bits in int32_data included) or in external data files, decoded to float32
//     on demand; SetInitializer writes them back in the stored type (float16 and bfloat16 rounded to
//     nearest, ties to even);
//   - the rewrites a runtime needs: a symbolic batch dimension, intermediate tensors exposed as
//     outputs, initializers promoted to overridable inputs (weights swapped per run in one session);
//   - PyTorch's default re-initialisation (KaimingUniform, BiasUniform) for layer criticality;
//   - gradient models (GradientModel): the graph re-emitted at opset 17 in float32 with the
//     reverse-mode pass appended, so ONNX Runtime (which has no autodiff at inference) computes
//     d loss / d input for cross-entropy or margin; CheckGradient names the ops without a rule;
//   - padding variants (SetConvPadding): Conv zero padding rewritten to reflect, replicate or circular;
//   - Classifier, a builder of a tiny known model for other packages' tests.
//
// How: Open maps the file read-only and the model is split into fields lazily; every message keeps
// the bytes it came from, so an unmodified model marshals to exactly its input bytes and a modified
// one re-encodes only the messages on the path to the change. Weights stay in the mapping until
// asked for, so opening a model and listing its layers costs a small fraction of its size in heap.
//
// What it refuses: external data whose location is absolute or leaves the model's folder (through
// "..", or symbolic links resolving outside), missing or too short external files, segmented
// tensors, duplicate or unnamed initializers, reading or writing non-floating-point initializers as
// float32, shape changes through SetInitializer, and writing a model whose tensors still live in
// external files into another folder. Sparse initializers and sub-graphs (If, Loop, Scan bodies) are
// kept byte for byte but not interpreted: Layers sees the main graph only.
//
// ONNX Runtime notes, verified with onnxruntime 1.24.3 on CPU: initializers listed as inputs of an
// IR < 4 model cannot be overridden (PromoteInitializers raises such a model to IR 4), and a float16
// model with overridable initializers crashes session creation at ORT_ENABLE_ALL unless the session
// config "optimization.disable_specified_optimizers" names FuseFp16InitializerToFp32NodeTransformer.
//
// A Model is not safe for concurrent use.
package onnx
