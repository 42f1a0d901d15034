// Package clip holds what a CLIP-style dual encoder needs besides its two ONNX graphs: CLIP's
// byte-level BPE tokenizer (token for token equal to openai/CLIP's simple_tokenizer.py), prompt
// templates, class embeddings averaged over templates, zero-shot logits, the model-vs-human
// 1000→16 category rule, and the checks `vistudy validate` runs on a pair of encoders.
//
// Running the encoders is the runtime's job: ClassEmbeddings drives any TextEncoder, so the host can
// back it with the runtime plugin and tests with ONNX Runtime in-process.
package clip
