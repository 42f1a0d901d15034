package onnx

import (
	"bytes"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"
)

// message is one protobuf message split into its top-level fields. Fields keep their original
// encoding, so a message nobody edited encodes back to exactly the bytes it was parsed from;
// sub-messages are decoded only when asked for.
type message struct {
	src    []byte // the encoding this message was parsed from; nil for messages built here
	fields []field
	edited bool // the field list changed after parsing
}

// field is one occurrence of a field number in a message.
type field struct {
	num protowire.Number
	typ protowire.Type
	enc []byte   // tag and value as encoded; nil only for message fields built here (see sub)
	u   uint64   // value of a varint, fixed32 or fixed64 field; payload offset in enc for bytes fields
	sub *message // decoded payload of a length-delimited field, once asked for or built here
}

// payload is the content of a length-delimited field (nil for a message field built here).
func (f *field) payload() []byte {
	if f.enc == nil {
		return nil
	}
	return f.enc[f.u:]
}

// parseMessage splits b into fields without copying it; the fields point into b.
func parseMessage(b []byte) (*message, error) {
	count, err := countFields(b)
	if err != nil {
		return nil, err
	}
	m := &message{src: b, fields: make([]field, 0, count)}
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		vlen := protowire.ConsumeFieldValue(num, typ, b[off+n:])
		v := b[off+n : off+n+vlen]
		f := field{num: num, typ: typ, enc: b[off : off+n+vlen : off+n+vlen]}
		switch typ {
		case protowire.VarintType:
			f.u, _ = protowire.ConsumeVarint(v)
		case protowire.Fixed32Type:
			x, _ := protowire.ConsumeFixed32(v)
			f.u = uint64(x)
		case protowire.Fixed64Type:
			f.u, _ = protowire.ConsumeFixed64(v)
		case protowire.BytesType:
			_, ln := protowire.ConsumeVarint(v)
			f.u = uint64(n + ln)
		}
		m.fields = append(m.fields, f)
		off += n + vlen
	}
	return m, nil
}

// countFields checks the framing of every field of b and counts them, so that parseMessage
// allocates its field list once.
func countFields(b []byte) (int, error) {
	count := 0
	for off := 0; off < len(b); count++ {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return 0, fmt.Errorf("field tag at byte %d: %w", off, protowire.ParseError(n))
		}
		vlen := protowire.ConsumeFieldValue(num, typ, b[off+n:])
		if vlen < 0 {
			return 0, fmt.Errorf("field %d at byte %d: %w", num, off, protowire.ParseError(vlen))
		}
		off += n + vlen
	}
	return count, nil
}

// child returns the decoded sub-message held by field i, decoding it on first use.
func (m *message) child(i int) (*message, error) {
	f := &m.fields[i]
	if f.sub != nil {
		return f.sub, nil
	}
	if f.typ != protowire.BytesType {
		return nil, fmt.Errorf("field %d: wire type %d where a message was expected", f.num, f.typ)
	}
	sub, err := parseMessage(f.payload())
	if err != nil {
		return nil, fmt.Errorf("field %d: %w", f.num, err)
	}
	f.sub = sub
	return sub, nil
}

// children returns the decoded sub-messages of every occurrence of num, in order.
func (m *message) children(num protowire.Number) ([]*message, error) {
	var out []*message
	for i := range m.fields {
		if m.fields[i].num != num {
			continue
		}
		sub, err := m.child(i)
		if err != nil {
			return nil, err
		}
		out = append(out, sub)
	}
	return out, nil
}

// lastChild returns the sub-message of the last occurrence of num, or nil when absent.
func (m *message) lastChild(num protowire.Number) (*message, error) {
	i := m.last(num)
	if i < 0 {
		return nil, nil
	}
	return m.child(i)
}

// last returns the index of the last occurrence of num (which wins for singular fields), or -1.
func (m *message) last(num protowire.Number) int {
	for i := len(m.fields) - 1; i >= 0; i-- {
		if m.fields[i].num == num {
			return i
		}
	}
	return -1
}

// has reports whether num occurs at all.
func (m *message) has(num protowire.Number) bool { return m.last(num) >= 0 }

// str returns the singular string field num, "" when absent.
func (m *message) str(num protowire.Number) string {
	if i := m.last(num); i >= 0 && m.fields[i].typ == protowire.BytesType {
		return string(m.fields[i].payload())
	}
	return ""
}

// bytesOf returns the payload of the singular bytes field num without copying, nil when absent.
func (m *message) bytesOf(num protowire.Number) []byte {
	if i := m.last(num); i >= 0 && m.fields[i].typ == protowire.BytesType {
		return m.fields[i].payload()
	}
	return nil
}

// int returns the singular varint field num as int64, 0 when absent.
func (m *message) int(num protowire.Number) int64 {
	if i := m.last(num); i >= 0 && m.fields[i].typ == protowire.VarintType {
		return int64(m.fields[i].u)
	}
	return 0
}

// strs returns every occurrence of the repeated string field num.
func (m *message) strs(num protowire.Number) []string {
	var out []string
	for _, f := range m.fields {
		if f.num == num && f.typ == protowire.BytesType {
			out = append(out, string(f.payload()))
		}
	}
	return out
}

// varints returns the repeated varint field num, accepting both packed and unpacked encodings.
func (m *message) varints(num protowire.Number) ([]int64, error) {
	var out []int64
	for _, f := range m.fields {
		if f.num != num {
			continue
		}
		switch f.typ {
		case protowire.VarintType:
			out = append(out, int64(f.u))
		case protowire.BytesType:
			for b := f.payload(); len(b) > 0; {
				v, n := protowire.ConsumeVarint(b)
				if n < 0 {
					return nil, fmt.Errorf("packed field %d: %w", num, protowire.ParseError(n))
				}
				out = append(out, int64(v))
				b = b[n:]
			}
		default:
			return nil, fmt.Errorf("field %d: wire type %d where varints were expected", num, f.typ)
		}
	}
	return out, nil
}

// remove deletes every occurrence of num.
func (m *message) remove(num protowire.Number) {
	kept := m.fields[:0:0]
	for _, f := range m.fields {
		if f.num != num {
			kept = append(kept, f)
		}
	}
	if len(kept) != len(m.fields) {
		m.fields = kept
		m.edited = true
	}
}

// removeIf deletes the occurrences of num whose decoded sub-message drop reports true.
func (m *message) removeIf(num protowire.Number, drop func(*message) bool) error {
	kept := m.fields[:0:0]
	for i := range m.fields {
		if m.fields[i].num == num {
			sub, err := m.child(i)
			if err != nil {
				return err
			}
			if drop(sub) {
				continue
			}
		}
		kept = append(kept, m.fields[i])
	}
	if len(kept) != len(m.fields) {
		m.fields = kept
		m.edited = true
	}
	return nil
}

// set replaces the occurrences of f.num by f, in the place of the last one, or adds f.
func (m *message) set(f field) {
	i := m.last(f.num)
	if i < 0 {
		m.add(f)
		return
	}
	m.fields[i] = f
	kept := m.fields[:0:0]
	for j, g := range m.fields {
		if g.num != f.num || j == i {
			kept = append(kept, g)
		}
	}
	m.fields = kept
	m.edited = true
}

// add inserts f after the last occurrence of its number (keeping repeated fields together), or at the end.
func (m *message) add(f field) {
	i := m.last(f.num)
	if i < 0 {
		m.fields = append(m.fields, f)
	} else {
		m.fields = append(m.fields[:i+1:i+1], append([]field{f}, m.fields[i+1:]...)...)
	}
	m.edited = true
}

// varintField is a new varint field.
func varintField(num protowire.Number, v int64) field {
	enc := protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), uint64(v))
	return field{num: num, typ: protowire.VarintType, enc: enc, u: uint64(v)}
}

// bytesField is a new length-delimited field holding b (strings and bytes).
func bytesField(num protowire.Number, b []byte) field {
	enc := protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.BytesType), uint64(len(b)))
	off := len(enc)
	return field{num: num, typ: protowire.BytesType, enc: append(enc, b...), u: uint64(off)}
}

// stringField is a new string field.
func stringField(num protowire.Number, s string) field { return bytesField(num, []byte(s)) }

// messageField is a new field holding the sub-message sub, encoded when the parent is.
func messageField(num protowire.Number, sub *message) field {
	return field{num: num, typ: protowire.BytesType, sub: sub}
}

// packedVarints is a new packed repeated varint field.
func packedVarints(num protowire.Number, vs []int64) field {
	var b []byte
	for _, v := range vs {
		b = protowire.AppendVarint(b, uint64(v))
	}
	return bytesField(num, b)
}

// newMessage builds a message from fields.
func newMessage(fields ...field) *message { return &message{fields: fields, edited: true} }

// dirty reports whether the message or any decoded descendant changed since parsing.
func (m *message) dirty() bool {
	if m.edited || m.src == nil {
		return true
	}
	for i := range m.fields {
		if s := m.fields[i].sub; s != nil && s.dirty() {
			return true
		}
	}
	return false
}

// size is the length of the message's encoding.
func (m *message) size() int {
	if !m.dirty() {
		return len(m.src)
	}
	n := 0
	for i := range m.fields {
		f := &m.fields[i]
		if f.reuse() {
			n += len(f.enc)
		} else {
			n += protowire.SizeTag(f.num) + protowire.SizeBytes(f.sub.size())
		}
	}
	return n
}

// reuse reports whether the field's stored encoding is current (false when its sub-message changed).
func (f *field) reuse() bool { return f.enc != nil && (f.sub == nil || !f.sub.dirty()) }

// encodeTo writes the message's encoding to w: original bytes where nothing changed.
func (m *message) encodeTo(w io.Writer) error {
	if !m.dirty() {
		_, err := w.Write(m.src)
		return err
	}
	var head [2 * binaryMaxVarint]byte
	for i := range m.fields {
		f := &m.fields[i]
		if f.reuse() {
			if _, err := w.Write(f.enc); err != nil {
				return err
			}
			continue
		}
		b := protowire.AppendTag(head[:0], f.num, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(f.sub.size()))
		if _, err := w.Write(b); err != nil {
			return err
		}
		if err := f.sub.encodeTo(w); err != nil {
			return err
		}
	}
	return nil
}

// binaryMaxVarint is the longest varint encoding.
const binaryMaxVarint = 10

// marshal returns the message's encoding in a new slice.
func (m *message) marshal() ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(m.size())
	if err := m.encodeTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
