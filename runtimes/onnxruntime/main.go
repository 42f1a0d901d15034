// Command vistudy-runtime-onnxruntime is vistudy's ONNX Runtime plugin: it loads ONNX
// classifiers and runs image batches on the CPU, CUDA or TensorRT execution providers.
package main

import "github.com/vistudy/vistudy/plugins/sdk"

func main() { sdk.ServeRuntime(runtime{}) }
