package load

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio/pqfile"
	"github.com/vistudy/vistudy/stages/labels"
)

// KindManifest is the dataset kind of a CSV or Parquet file listing path,label rows.
const KindManifest = "manifest"

// Manifest column names.
const (
	manifestPath  = "path"
	manifestLabel = "label"
)

func init() {
	if err := Register(KindManifest, openManifest); err != nil {
		panic(err)
	}
}

// manifestRow is one listed image: path as written, label as text, and where it was listed.
type manifestRow struct {
	path, label string
	where       string // "file:N" (CSV line) or "file row N" (Parquet)
}

// openManifest reads a .csv or .parquet manifest; image paths are relative to the manifest's folder.
// Files are not checked here: a listed file that is missing becomes an error row when it is loaded.
func openManifest(cfg Config) (Dataset, error) {
	file, err := resolvePath(cfg)
	if err != nil {
		return nil, err
	}
	var rows []manifestRow
	switch ext := strings.ToLower(filepath.Ext(file)); ext {
	case ".csv":
		rows, err = readManifestCSV(file)
	case ".parquet":
		rows, err = readManifestParquet(file)
	default:
		return nil, fmt.Errorf("load: dataset %q: manifest %s: extension %q is neither .csv nor .parquet", cfg.Name, file, ext)
	}
	if err != nil {
		return nil, fmt.Errorf("load: dataset %q: %w", cfg.Name, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("load: dataset %q: manifest %s lists no images", cfg.Name, file)
	}
	space, err := labelSpace(cfg, func() (*labels.Space, error) { return namesOf(file, rows) })
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(file)
	paths := make([]string, len(rows))
	for i, r := range rows {
		p := filepath.FromSlash(r.path)
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		paths[i] = filepath.Clean(p)
	}
	root := idRoot(dir, paths)
	samples := make([]Sample, 0, len(rows))
	for i, r := range rows {
		label, err := classOf(space, r.label)
		if err != nil {
			return nil, fmt.Errorf("load: dataset %q: %s: %w", cfg.Name, r.where, err)
		}
		samples = append(samples, fileSample(root, paths[i], label, space))
	}
	ds, err := newFileDataset(cfg, samples, space, false)
	if err != nil {
		return nil, err
	}
	return ds, nil
}

// idRoot is the folder sample ids of a manifest's files are relative to: the manifest's folder when
// every file is below it, else the deepest folder holding them all (so that absolute paths elsewhere
// give readable ids such as n01440764/x.JPEG instead of ../../data/val/n01440764/x.JPEG).
func idRoot(dir string, paths []string) string {
	below := func(root, p string) bool {
		rel, err := filepath.Rel(root, p)
		return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
	}
	all := true
	for _, p := range paths {
		if !below(dir, p) {
			all = false
			break
		}
	}
	if all {
		return dir
	}
	root := filepath.Dir(paths[0])
	for _, p := range paths[1:] {
		for !below(root, p) {
			parent := filepath.Dir(root)
			if parent == root {
				return root
			}
			root = parent
		}
	}
	return root
}

// namesOf is the default label space of a manifest: its label names, sorted. Indices need a given space.
func namesOf(file string, rows []manifestRow) (*labels.Space, error) {
	seen := map[string]bool{}
	var names []string
	for _, r := range rows {
		if _, err := strconv.Atoi(r.label); err == nil {
			return nil, fmt.Errorf("load: %s: label %q is an index, which needs a label space: set the dataset's labels", r.where, r.label)
		}
		if !seen[r.label] {
			seen[r.label] = true
			names = append(names, r.label)
		}
	}
	return plainSpace(file, names)
}

// readManifestCSV reads a CSV manifest whose header names a path and a label column; other columns are ignored.
func readManifestCSV(file string) ([]manifestRow, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("manifest %s: header: %w", file, err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	pathCol, labelCol := slices.Index(header, manifestPath), slices.Index(header, manifestLabel)
	if pathCol < 0 || labelCol < 0 {
		return nil, fmt.Errorf("manifest %s:1: header %q must name columns %q and %q", file, strings.Join(header, ","), manifestPath, manifestLabel)
	}
	var rows []manifestRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("manifest %s: %w", file, err) // csv.ParseError names the line
		}
		line, _ := r.FieldPos(0)
		row := manifestRow{path: strings.TrimSpace(rec[pathCol]), label: strings.TrimSpace(rec[labelCol]), where: fmt.Sprintf("%s:%d", file, line)}
		if row.path == "" || row.label == "" {
			return nil, fmt.Errorf("manifest %s:%d: empty %s or %s", file, line, manifestPath, manifestLabel)
		}
		rows = append(rows, row)
	}
}

// readManifestParquet reads a Parquet manifest with a string path column and an integer or string label column.
func readManifestParquet(file string) ([]manifestRow, error) {
	rec, err := pqfile.ReadParquet(file, memory.DefaultAllocator)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	defer rec.Release()
	column := func(name string) (arrow.Array, error) {
		idx := rec.Schema().FieldIndices(name)
		if len(idx) == 0 {
			return nil, fmt.Errorf("manifest %s: no column %q (columns must include %q and %q)", file, name, manifestPath, manifestLabel)
		}
		return rec.Column(idx[0]), nil
	}
	paths, err := column(manifestPath)
	if err != nil {
		return nil, err
	}
	labelsCol, err := column(manifestLabel)
	if err != nil {
		return nil, err
	}
	rows := make([]manifestRow, rec.NumRows())
	for i := range rows {
		where := fmt.Sprintf("%s row %d", file, i+1)
		p, err := textValue(paths, i, false)
		if err != nil {
			return nil, fmt.Errorf("manifest %s: column %s: %w", where, manifestPath, err)
		}
		l, err := textValue(labelsCol, i, true)
		if err != nil {
			return nil, fmt.Errorf("manifest %s: column %s: %w", where, manifestLabel, err)
		}
		if p == "" || l == "" {
			return nil, fmt.Errorf("manifest %s: empty %s or %s", where, manifestPath, manifestLabel)
		}
		rows[i] = manifestRow{path: p, label: l, where: where}
	}
	return rows, nil
}

// textValue renders value i of a string, dictionary-of-string or (when ints) integer column as text.
func textValue(a arrow.Array, i int, ints bool) (string, error) {
	if a.IsNull(i) {
		return "", errors.New("null value")
	}
	switch c := a.(type) {
	case *array.String:
		return strings.TrimSpace(c.Value(i)), nil
	case *array.LargeString:
		return strings.TrimSpace(c.Value(i)), nil
	case *array.Dictionary:
		return textValue(c.Dictionary(), c.GetValueIndex(i), ints)
	}
	if ints && arrow.IsInteger(a.DataType().ID()) {
		s := a.ValueStr(i)
		if strings.HasPrefix(s, "-") {
			return "", fmt.Errorf("negative label index %s", s)
		}
		return s, nil
	}
	want := "string"
	if ints {
		want = "integer or string"
	}
	return "", fmt.Errorf("type %s is not %s", a.DataType(), want)
}
