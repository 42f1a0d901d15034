package onnx

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// schema says which fields of which ONNX message hold sub-messages (by the message they hold);
// forceReencode walks it to decode every message of a model.
var schema = map[string]map[protowire.Number]string{
	"Model":      {modelGraph: "Graph", modelOpsetImport: "Opset", 14: "Entry"},
	"Graph":      {graphNode: "Node", graphInitializer: "Tensor", graphInput: "ValueInfo", graphOutput: "ValueInfo", graphValueInfo: "ValueInfo"},
	"Node":       {nodeAttribute: "Attribute"},
	"Attribute":  {5: "Tensor", 6: "Graph", 10: "Tensor", 11: "Graph"},
	"Tensor":     {tensorExternalData: "Entry"},
	"ValueInfo":  {valueInfoType: "Type"},
	"Type":       {typeTensor: "TensorType"},
	"TensorType": {tensorTypeShape: "Shape"},
	"Shape":      {shapeDim: "Dim"},
}

// forceReencode decodes every message of an encoded model and marks it edited, so Marshal
// rebuilds all of them from their fields instead of copying their bytes.
func forceReencode(t testing.TB, data []byte) ([]byte, error) {
	t.Helper()
	root, err := parseMessage(data)
	if err != nil {
		return nil, err
	}
	var walk func(m *message, kind string) int
	walk = func(m *message, kind string) int {
		m.edited = true
		n := 1
		for i := range m.fields {
			if sub, ok := schema[kind][m.fields[i].num]; ok {
				c, err := m.child(i)
				if err != nil {
					t.Fatalf("%s field %d: %v", kind, m.fields[i].num, err)
				}
				n += walk(c, sub)
			}
		}
		return n
	}
	if n := walk(root, "Model"); n < 10 {
		t.Fatalf("only %d messages decoded", n)
	}
	return root.marshal()
}

// enc builds an encoding from protowire appends, for hand-made inputs.
func enc(parts ...func([]byte) []byte) []byte {
	var b []byte
	for _, p := range parts {
		b = p(b)
	}
	return b
}

func tagVarint(num protowire.Number, v uint64) func([]byte) []byte {
	return func(b []byte) []byte {
		return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), v)
	}
}

func tagBytes(num protowire.Number, v []byte) func([]byte) []byte {
	return func(b []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), v)
	}
}

func tagFixed32(num protowire.Number, v uint32) func([]byte) []byte {
	return func(b []byte) []byte {
		return protowire.AppendFixed32(protowire.AppendTag(b, num, protowire.Fixed32Type), v)
	}
}

func tagGroup(num protowire.Number, inner []byte) func([]byte) []byte {
	return func(b []byte) []byte {
		b = protowire.AppendTag(b, num, protowire.StartGroupType)
		b = append(b, inner...)
		return protowire.AppendTag(b, num, protowire.EndGroupType)
	}
}

func TestMessageRoundTripAndEdits(t *testing.T) {
	child := enc(tagVarint(1, 5), tagBytes(99, []byte("unknown to us")), tagVarint(2, 7))
	// A non-minimal varint (3 bytes for the value 1) must survive an untouched round trip.
	overlong := []byte{byte(protowire.EncodeTag(3, protowire.VarintType)), 0x81, 0x80, 0x00}
	src := enc(
		tagVarint(1, 300),
		tagBytes(2, child),
		tagFixed32(5, 0x3f800000),
		tagGroup(40, enc(tagVarint(1, 1))),
		func(b []byte) []byte { return append(b, overlong...) },
		tagBytes(2, child),
	)
	for _, tc := range []struct {
		name  string
		edit  func(t *testing.T, m *message)
		check func(t *testing.T, out []byte)
	}{
		{"untouched", func(*testing.T, *message) {}, func(t *testing.T, out []byte) {
			if !bytes.Equal(out, src) {
				t.Errorf("got %x, want %x", out, src)
			}
		}},
		{"decoded child untouched", func(t *testing.T, m *message) {
			if _, err := m.children(2); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, out []byte) {
			if !bytes.Equal(out, src) {
				t.Errorf("got %x, want %x", out, src)
			}
		}},
		{"edit a child keeps the rest verbatim", func(t *testing.T, m *message) {
			kids, err := m.children(2)
			if err != nil {
				t.Fatal(err)
			}
			kids[1].set(varintField(1, 6))
		}, func(t *testing.T, out []byte) {
			newChild := enc(tagVarint(1, 6), tagBytes(99, []byte("unknown to us")), tagVarint(2, 7))
			want := enc(tagVarint(1, 300), tagBytes(2, child), tagFixed32(5, 0x3f800000),
				tagGroup(40, enc(tagVarint(1, 1))),
				func(b []byte) []byte { return append(b, overlong...) }, tagBytes(2, newChild))
			if !bytes.Equal(out, want) {
				t.Errorf("got %x, want %x", out, want)
			}
		}},
		{"add after the last of the same number, remove", func(t *testing.T, m *message) {
			m.add(stringField(2, "x"))
			m.remove(5)
		}, func(t *testing.T, out []byte) {
			want := enc(tagVarint(1, 300), tagBytes(2, child), tagGroup(40, enc(tagVarint(1, 1))),
				func(b []byte) []byte { return append(b, overlong...) }, tagBytes(2, child), tagBytes(2, []byte("x")))
			if !bytes.Equal(out, want) {
				t.Errorf("got %x, want %x", out, want)
			}
		}},
		{"set replaces every occurrence in place of the last", func(t *testing.T, m *message) {
			m.set(stringField(2, "only"))
		}, func(t *testing.T, out []byte) {
			want := enc(tagVarint(1, 300), tagFixed32(5, 0x3f800000), tagGroup(40, enc(tagVarint(1, 1))),
				func(b []byte) []byte { return append(b, overlong...) }, tagBytes(2, []byte("only")))
			if !bytes.Equal(out, want) {
				t.Errorf("got %x, want %x", out, want)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := parseMessage(src)
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(t, m)
			if got := m.size(); got < 0 {
				t.Fatal("negative size")
			}
			out, err := m.marshal()
			if err != nil {
				t.Fatal(err)
			}
			if m.size() != len(out) {
				t.Errorf("size() %d, encoding has %d bytes", m.size(), len(out))
			}
			tc.check(t, out)
		})
	}
}

func TestMessageAccessors(t *testing.T) {
	packed := enc(tagBytes(1, protowire.AppendVarint(protowire.AppendVarint(nil, 3), 224)))
	src := enc(func(b []byte) []byte { return append(b, packed...) }, tagVarint(1, 5), tagBytes(2, []byte("a")), tagBytes(2, []byte("b")), tagVarint(3, 1), tagVarint(3, 2))
	m, err := parseMessage(src)
	if err != nil {
		t.Fatal(err)
	}
	dims, err := m.varints(1)
	if err != nil || len(dims) != 3 || dims[0] != 3 || dims[1] != 224 || dims[2] != 5 {
		t.Errorf("varints packed then unpacked = %v, %v; want [3 224 5]", dims, err)
	}
	if got := m.strs(2); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("strs = %q", got)
	}
	if got := m.str(2); got != "b" {
		t.Errorf("str takes the last occurrence: got %q", got)
	}
	if got := m.int(3); got != 2 {
		t.Errorf("int takes the last occurrence: got %d", got)
	}
	if m.has(9) || m.int(9) != 0 || m.str(9) != "" {
		t.Error("absent field reads as present")
	}
}

func TestParseMessageRejectsTruncation(t *testing.T) {
	for _, b := range [][]byte{
		{0x0a, 0x05, 'a'},     // length past the end
		{0x08},                // varint missing
		{0x08, 0x80},          // varint unterminated
		{0x00},                // field number 0
		{0x0b, 0x08, 0x01},    // group not closed
		{0x0d, 0x00, 0x00, 0}, // fixed32 short
	} {
		if _, err := parseMessage(b); err == nil {
			t.Errorf("parseMessage(%x) accepted a malformed encoding", b)
		}
	}
}
