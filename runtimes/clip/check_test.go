package clip

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// pb builds protobuf messages field by field, for hand-made ONNX graphs.
type pb []byte

func (b pb) bytes(num protowire.Number, v []byte) pb {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}
func (b pb) str(num protowire.Number, s string) pb { return b.bytes(num, []byte(s)) }
func (b pb) varint(num protowire.Number, v int64) pb {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

// valueInfo is an ONNX ValueInfoProto; a dim below 0 is the symbolic "batch".
func valueInfo(name string, elem int64, dims ...int64) []byte {
	var shape pb
	for _, d := range dims {
		if d < 0 {
			shape = shape.bytes(1, pb(nil).str(2, "batch"))
		} else {
			shape = shape.bytes(1, pb(nil).varint(1, d))
		}
	}
	tensor := pb(nil).varint(1, elem).bytes(2, shape)
	return pb(nil).str(1, name).bytes(2, pb(nil).bytes(1, tensor))
}

// initializer is a TensorProto with zero raw data.
func initializer(name string, elem int64, width int, dims ...int64) []byte {
	b := pb(nil)
	n := int64(1)
	for _, d := range dims {
		b = b.varint(1, d)
		n *= d
	}
	return b.varint(2, elem).str(8, name).bytes(9, make([]byte, int(n)*width))
}

func node(op string, inputs []string, outputs ...string) []byte {
	b := pb(nil)
	for _, in := range inputs {
		b = b.str(1, in)
	}
	for _, o := range outputs {
		b = b.str(2, o)
	}
	return b.str(3, op+"_"+outputs[0]).str(4, op)
}

// writeModel writes a graph of nodes, initializers, inputs and outputs as an ONNX file.
func writeModel(t *testing.T, name string, nodes, inits, inputs, outputs [][]byte) string {
	t.Helper()
	g := pb(nil).str(2, "g")
	for _, n := range nodes {
		g = g.bytes(1, n)
	}
	for _, i := range inits {
		g = g.bytes(5, i)
	}
	for _, i := range inputs {
		g = g.bytes(11, i)
	}
	for _, o := range outputs {
		g = g.bytes(12, o)
	}
	m := pb(nil).varint(1, 7).bytes(7, g).bytes(8, pb(nil).varint(2, 13))
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, m, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	elemFloat = 1
	elemInt64 = 7
)

// imageModel is GlobalAveragePool → Flatten → MatMul [3, d]: [N,3,32,32] → [N,d].
func imageModel(t *testing.T, d int64) string {
	return writeModel(t, "image.onnx",
		[][]byte{node("GlobalAveragePool", []string{"image"}, "p"), node("Flatten", []string{"p"}, "f"),
			node("MatMul", []string{"f", "w"}, "embedding")},
		[][]byte{initializer("w", elemFloat, 4, 3, d)},
		[][]byte{valueInfo("image", elemFloat, -1, 3, 32, 32)},
		[][]byte{valueInfo("embedding", elemFloat, -1, d)})
}

// textModel is Cast → Gather(table [vocab, d]) → ReduceMean over the tokens: [N,ctx] → [N,d].
func textModel(t *testing.T, ctx, vocab, d int64, extra bool) string {
	inputs := [][]byte{valueInfo("input_ids", elemInt64, -1, ctx)}
	if extra {
		inputs = append(inputs, valueInfo("attention_mask", elemInt64, -1, ctx))
	}
	return writeModel(t, "text.onnx",
		[][]byte{node("Cast", []string{"input_ids"}, "ids"), node("Gather", []string{"table", "ids"}, "e"),
			node("ReduceMean", []string{"e"}, "embedding")},
		[][]byte{initializer("table", elemFloat, 4, vocab, d)},
		inputs,
		[][]byte{valueInfo("embedding", elemFloat, -1, d)})
}

func TestCheckEncoders(t *testing.T) {
	img8 := imageModel(t, 8)
	cases := []struct {
		name        string
		image, text string
		want        []string // substrings of the error; none: no error
	}{
		{"fit", img8, textModel(t, 77, VocabSize, 8, false), nil},
		{"attention mask", img8, textModel(t, 77, VocabSize, 8, true), nil},
		{"dims differ", img8, textModel(t, 77, VocabSize, 16, false), []string{"embeds in 8 dimensions", "in 16", "image.onnx", "text.onnx"}},
		{"context", img8, textModel(t, 64, VocabSize, 8, false), []string{"text.onnx", `"input_ids" has context length 64`}},
		{"vocabulary", img8, textModel(t, 77, 1000, 8, false), []string{"text.onnx", "vocabulary of 1000 tokens"}},
		{"all three", img8, textModel(t, 16, 500, 4, false), []string{"in 4", "context length 16", "vocabulary of 500"}},
		{"image given as text", img8, img8, []string{"text encoder", "no integer token input"}},
		{"text given as image", textModel(t, 77, VocabSize, 8, false), img8, []string{"image encoder", `input "input_ids" is int64, want float`}},
		{"missing file", filepath.Join(t.TempDir(), "absent.onnx"), img8, []string{"absent.onnx"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckEncoders(c.image, c.text)
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	txt, err := InspectTextEncoder(textModel(t, 77, VocabSize, 8, true))
	if err != nil {
		t.Fatal(err)
	}
	if txt.Input.Name != "input_ids" || txt.Context != 77 || txt.Vocab != VocabSize || txt.Dim != 8 || len(txt.Extra) != 1 || txt.Extra[0] != "attention_mask" {
		t.Errorf("InspectTextEncoder: %+v", txt)
	}
	if err := CheckDims("a.onnx", 512, "b.onnx", 768); err == nil || !strings.Contains(err.Error(), "a.onnx embeds in 512") {
		t.Errorf("CheckDims: %v", err)
	}
}
