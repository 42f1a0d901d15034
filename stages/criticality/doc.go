// Package criticality is the layer criticality stage (analysis J of ANALYSES.md, Gavrikov & Keuper
// 2024): for each selected layer and trial it replaces that one layer's trained weights by a fresh
// initialisation, runs a fixed subset of the data through the model and compares the softmax
// outputs with those of the trained model.
//
// The runtime loads the model once with every selected layer's initializers overridable
// (Overridable), so a reset is one SetOverrides call, not a new session. The stage's input is
// spilled once to an Arrow IPC file (Spill) and replayed for the clean pass and every trial.
//
// What a reset draws (PyTorch's defaults, runtimes/onnx KaimingUniform and BiasUniform):
//   - Conv, Gemm and MatMul weights: U(±1/sqrt(fan_in)) (kaiming_uniform_ with a = sqrt(5));
//     biases U(±1/sqrt(fan_in)).
//   - BatchNormalization (only with batchnorm: true, or when named in layers): nn.BatchNorm2d's
//     initial state, scale 1, bias 0, running mean 0, running variance 1.
//   - init "zeros" replaces only the weight (BatchNormalization: the scale) by zeros and keeps the
//     trained bias (and running statistics): a zeroed head outputs softmax(bias) for every image.
//
// Deterministic resets (init "zeros", BatchNormalization) give the same numbers in every trial, so
// they run once and report one trial.
//
// Per sample, with a = softmax(trained logits) and b = softmax(reset logits), both rounded to
// float32 (the clean pass is kept in float32): cosine similarity, L1 = Σ|a−b|, L2 = ‖a−b‖₂.
// Top-1/top-5 count a sample when fewer than k classes rank before its label: score higher, or
// the same with a lower index (the pred column's arg-max rule), so that a constant output is not
// a hit for every label. Samples whose reset output is not finite are left out of the means,
// counted as misses and reported (metric nonfinite_outputs).
package criticality
