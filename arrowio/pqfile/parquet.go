package pqfile

import (
	"github.com/vistudy/vistudy/arrowio"

	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Partition is one directory level of a table: a key and its value (model, a sweep key).
type Partition struct {
	Key, Value string
}

// PartPath is the path root/tables/<stage>/<k-v>.../part-<unit>.parquet. The folders are for people
// only: the files hold the values as columns (PartWriter.Const), and the folder names are not hive
// key=value pairs, so DuckDB and pyarrow add no string-typed partition columns beside them.
func PartPath(root, stage string, parts []Partition, unit string) string {
	elems := []string{root, "tables", stage}
	for _, p := range parts {
		elems = append(elems, p.Key+"-"+pathEscape(p.Value))
	}
	return filepath.Join(append(elems, "part-"+unit+".parquet")...)
}

// pathEscape percent-encodes the characters that are unsafe or special in a folder name.
func pathEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '/', '\\', '=', '%', ':', '#', '?', '*', '"', '<', '>', '|', '\n':
			fmt.Fprintf(&b, "%%%02X", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// writerProps are the Parquet properties every vistudy table of schema (as parquetView gives it)
// is written with: zstd, and dictionary encoding except for floating-point values nested in a
// row (logits, images): those are nearly all distinct, so the dictionary's hashing costs time
// and memory for no smaller file (bench/README.md).
func writerProps(mem memory.Allocator, schema *arrow.Schema) (*parquet.WriterProperties, pqarrow.ArrowWriterProperties) {
	opts := []parquet.WriterProperty{parquet.WithCompression(compress.Codecs.Zstd), parquet.WithAllocator(mem)}
	aprops := pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(mem))
	if sc, err := pqarrow.ToParquet(schema, parquet.NewWriterProperties(), aprops); err == nil {
		for i := 0; i < sc.NumColumns(); i++ {
			c := sc.Column(i)
			if t := c.PhysicalType(); c.MaxRepetitionLevel() > 0 && (t == parquet.Types.Float || t == parquet.Types.Double) {
				opts = append(opts, parquet.WithDictionaryPath(c.ColumnPath(), false))
			}
		}
	}
	return parquet.NewWriterProperties(opts...), aprops
}

// WriteParquet writes the batches (all of schema) to path atomically: a temporary file renamed into place.
func WriteParquet(path string, schema *arrow.Schema, recs []arrow.RecordBatch, mem memory.Allocator) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("arrowio: write %s: %w", path, err)
	}
	tmp, err := arrowio.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("arrowio: write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	ps := parquetSchema(schema)
	props, aprops := writerProps(mem, ps)
	w, err := pqarrow.NewFileWriter(ps, tmp, props, aprops)
	if err != nil {
		return fmt.Errorf("arrowio: write %s: %w", path, err)
	}
	for _, r := range recs {
		v := parquetView(r)
		err := w.WriteBuffered(v)
		v.Release()
		if err != nil {
			w.Close()
			return fmt.Errorf("arrowio: write %s: %w", path, err)
		}
	}
	if err := w.Close(); err != nil { // closes tmp too
		return fmt.Errorf("arrowio: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("arrowio: write %s: %w", path, err)
	}
	return nil
}

// ReadParquet reads a whole Parquet file as one record batch; the caller releases it.
func ReadParquet(path string, mem memory.Allocator) (arrow.RecordBatch, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("arrowio: read %s: %w", path, err)
	}
	defer f.Close()
	rdr, err := file.NewParquetReader(f, file.WithReadProps(parquet.NewReaderProperties(mem)))
	if err != nil {
		return nil, fmt.Errorf("arrowio: read %s: %w", path, err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, mem)
	if err != nil {
		return nil, fmt.Errorf("arrowio: read %s: %w", path, err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		return nil, fmt.Errorf("arrowio: read %s: %w", path, err)
	}
	defer tbl.Release()
	return tableToRecord(tbl, mem)
}

// tableToRecord concatenates a table's chunks into one record batch.
func tableToRecord(tbl arrow.Table, mem memory.Allocator) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, tbl.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i := range cols {
		chunks := tbl.Column(i).Data().Chunks()
		switch len(chunks) {
		case 1:
			chunks[0].Retain()
			cols[i] = chunks[0]
		default:
			if len(chunks) == 0 {
				cols[i] = array.MakeArrayOfNull(mem, tbl.Schema().Field(i).Type, 0)
				continue
			}
			c, err := array.Concatenate(chunks, mem)
			if err != nil {
				return nil, fmt.Errorf("arrowio: concatenate column %s: %w", tbl.Schema().Field(i).Name, err)
			}
			cols[i] = c
		}
	}
	return array.NewRecordBatch(tbl.Schema(), cols, tbl.NumRows()), nil
}

// parquetView returns rec with tensor extension columns replaced by their FixedSizeList storage,
// the extension recorded in the field metadata the way Arrow IPC records it. pqarrow cannot write
// extension types over nested storage; with this the stored Arrow schema still names the
// extension, so pyarrow and ReadParquet get arrow.fixed_shape_tensor back.
func parquetView(rec arrow.RecordBatch) arrow.RecordBatch {
	fields := append([]arrow.Field(nil), rec.Schema().Fields()...)
	cols := append([]arrow.Array(nil), rec.Columns()...)
	for i, f := range fields {
		t, ok := f.Type.(*arrowio.TensorType)
		if !ok {
			continue
		}
		keys := append(f.Metadata.Keys(), extNameKey, extMetaKey)
		vals := append(f.Metadata.Values(), arrowio.TensorExtensionName, t.Serialize())
		fields[i] = arrow.Field{Name: f.Name, Type: t.Storage, Nullable: f.Nullable, Metadata: arrow.NewMetadata(keys, vals)}
		cols[i] = cols[i].(array.ExtensionArray).Storage()
	}
	md := rec.Schema().Metadata()
	return array.NewRecordBatch(arrow.NewSchema(fields, &md), cols, rec.NumRows())
}

// The field metadata keys Arrow IPC uses for extension types.
const (
	extNameKey = "ARROW:extension:name"
	extMetaKey = "ARROW:extension:metadata"
)

// parquetSchema is the schema parquetView gives batches of s.
func parquetSchema(s *arrow.Schema) *arrow.Schema {
	fields := append([]arrow.Field(nil), s.Fields()...)
	for i, f := range fields {
		if t, ok := f.Type.(*arrowio.TensorType); ok {
			keys := append(f.Metadata.Keys(), extNameKey, extMetaKey)
			vals := append(f.Metadata.Values(), arrowio.TensorExtensionName, t.Serialize())
			fields[i] = arrow.Field{Name: f.Name, Type: t.Storage, Nullable: f.Nullable, Metadata: arrow.NewMetadata(keys, vals)}
		}
	}
	md := s.Metadata()
	return arrow.NewSchema(fields, &md)
}
