package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/arrowio/pqfile"
	"github.com/vistudy/vistudy/plugins/params"
)

// Run directory layout.
const (
	StudyFile    = "study.yaml"
	RunFile      = "run.json"
	ManifestName = "manifest.json"
	ResultsFile  = "results.parquet"
	ErrorsFile   = "errors.parquet"
	MetricsFile  = "metrics.parquet" // the metric catalogue
	// ResultsCSVFile is results.parquet as CSV, typed group columns included.
	ResultsCSVFile = "results.csv"
	SummaryFile    = "summary.json" // the leaderboard
	unitsDir       = "units"
	reportDir      = "report"
)

// RunDir is a run directory: tables, unit records, results, manifest.
type RunDir struct {
	Root string
}

// runInfo identifies the study a run directory belongs to.
type runInfo struct {
	Study       string     `json:"study"`
	Fingerprint string     `json:"fingerprint"` // sha256 of the study bytes and overrides
	Overrides   []Override `json:"overrides,omitempty"`
	Created     time.Time  `json:"created"`
}

// Fingerprint identifies a study file with its overrides.
func Fingerprint(data []byte, overrides []Override) string {
	h := sha256.New()
	h.Write(data)
	for _, o := range overrides {
		fmt.Fprintf(h, "\x00%s=%s", o.Key, o.Value)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// OpenRunDir creates or reopens the run directory of a study. Reopening a directory made by a
// different study (or other overrides) is refused, so that resumed units are never mixed, and so
// is a non-empty folder that is not a run directory (it would be overwritten). The check and the
// creation hold an exclusive lock on the folder, so two studies started into one output at once
// cannot both pass.
func OpenRunDir(s *Study, overrides []Override) (*RunDir, error) {
	data, err := os.ReadFile(s.File)
	if err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	fp := Fingerprint(data, overrides)
	rd := &RunDir{Root: s.Output}
	if st, err := os.Stat(rd.Root); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("output %s is a file, not a run directory: choose another output (--output)", rd.Root)
	}
	if err := os.MkdirAll(rd.Root, 0o777); err != nil {
		return nil, fmt.Errorf("run directory %s: %w", rd.Root, err)
	}
	unlock, err := lockDir(rd.Root)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var old runInfo
	b, err := os.ReadFile(rd.path(RunFile))
	if err == nil {
		if err := json.Unmarshal(b, &old); err != nil {
			return nil, fmt.Errorf("run directory %s: %s is damaged: %w", rd.Root, RunFile, err)
		}
		if old.Fingerprint != fp {
			return nil, fmt.Errorf("run directory %s holds a run of a different study or overrides (%s); finished units would not match — choose another output (--output) or remove it", rd.Root, old.Study)
		}
		return rd, nil
	}
	if ents, _ := os.ReadDir(rd.Root); len(ents) > 0 && !onlyLock(ents) {
		return nil, fmt.Errorf("output %s is a non-empty folder that is not a vistudy run directory (it has no %s); vistudy would overwrite what is there — choose another output (--output) or empty it", rd.Root, RunFile)
	}
	info := runInfo{Study: s.File, Fingerprint: fp, Overrides: overrides, Created: time.Now().UTC()}
	if err := writeFileAtomic(rd.path(StudyFile), data); err != nil {
		return nil, err
	}
	b, _ = json.MarshalIndent(info, "", "  ")
	if err := writeFileAtomic(rd.path(RunFile), b); err != nil {
		return nil, err
	}
	return rd, nil
}

// lockName is the lock file of a run directory.
const lockName = ".lock"

func onlyLock(ents []os.DirEntry) bool { return len(ents) == 1 && ents[0].Name() == lockName }

// lockDir takes an exclusive lock on the run directory dir (waiting for another process's
// check-and-create to finish) and returns its release.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("run directory %s: lock: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("run directory %s: lock: %w", dir, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func (rd *RunDir) path(elem ...string) string {
	return filepath.Join(append([]string{rd.Root}, elem...)...)
}

// writeFileAtomic writes data to a temporary file beside path and renames it into place.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := arrowio.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// UnitRecord is the commit record of one finished work unit: written last, atomically, so that
// its presence means every file it names is complete.
type UnitRecord struct {
	Stage    string             `json:"stage"`
	Instance string             `json:"instance"`
	Unit     string             `json:"unit"`
	Model    string             `json:"model,omitempty"`
	State    []byte             `json:"state,omitempty"`  // metric state
	Rows     []arrowio.Result   `json:"rows,omitempty"`   // tidy rows of model-level stages
	Errors   []arrowio.ErrorRow `json:"errors,omitempty"` // skipped inputs
	Tables   []string           `json:"tables,omitempty"` // part files, relative to the run directory
	NumRows  int64              `json:"num_rows"`
	Seconds  float64            `json:"seconds"`
	Timings  map[string]float64 `json:"timings,omitempty"` // further timings (kept out of results.parquet: they vary)
	Shard    string             `json:"shard,omitempty"`
	Finished time.Time          `json:"finished"`
}

// unitName formats a data unit's index.
func unitName(k int) string { return fmt.Sprintf("u%05d", k) }

func (rd *RunDir) unitPath(in *Instance, unit string) string {
	return rd.path(unitsDir, in.Stage.ID, filepath.FromSlash(in.Dir()), unit+".json")
}

// Done reports whether the unit of in is committed (a stat per unit: a record whose part file
// was deleted is found by Finalize, which drops it so that the next run redoes the unit).
func (rd *RunDir) Done(in *Instance, unit string) bool {
	_, err := os.Stat(rd.unitPath(in, unit))
	return err == nil
}

// drop removes a unit's record, so that the next run redoes the unit.
func (rd *RunDir) drop(in *Instance, unit string) error { return os.Remove(rd.unitPath(in, unit)) }

// missingTable names the first part file a record names that is not there ("" when all are).
func (rd *RunDir) missingTable(r *UnitRecord) string {
	for _, t := range r.Tables {
		if _, err := os.Stat(filepath.Join(rd.Root, filepath.FromSlash(t))); err != nil {
			return t
		}
	}
	return ""
}

// Commit writes a unit record atomically.
func (rd *RunDir) Commit(in *Instance, rec *UnitRecord) error {
	rec.Stage, rec.Instance, rec.Model = in.Stage.ID, in.Dir(), in.ModelName()
	rec.Finished = time.Now().UTC()
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("commit %s %s: %w", in.Key(), rec.Unit, err)
	}
	return writeFileAtomic(rd.unitPath(in, rec.Unit), b)
}

// Units reads the committed unit records of in, sorted by unit name.
func (rd *RunDir) Units(in *Instance) ([]*UnitRecord, error) {
	dir := filepath.Dir(rd.unitPath(in, "x"))
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read units of %s: %w", in.Key(), err)
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	out := make([]*UnitRecord, 0, len(names))
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, fmt.Errorf("read unit %s of %s: %w", n, in.Key(), err)
		}
		var r UnitRecord
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("unit record %s of %s is damaged: %w", n, in.Key(), err)
		}
		out = append(out, &r)
	}
	return out, nil
}

// PartWriter prepares the part file of in's unit: its rows carry the stage, dataset, model and
// swept values as columns (tableColumns).
func (rd *RunDir) PartWriter(in *Instance, unit string, mem memory.Allocator) *pqfile.PartWriter {
	pw := pqfile.NewPartWriter(rd.TablePath(in, unit), mem)
	pw.Const = tableColumns(in)
	return pw
}

// tableColumns are the columns of one value the rows of in's table carry, where its batches lack
// them: stage, dataset, model and each swept value, typed as the study gives it.
func tableColumns(in *Instance) []pqfile.ConstColumn {
	cols := []pqfile.ConstColumn{{Name: arrowio.ColStage, Value: in.Stage.ID}}
	if in.Root != nil && in.Root.Dataset != nil {
		cols = append(cols, pqfile.ConstColumn{Name: arrowio.ColDataset, Value: in.Root.Dataset.Name})
	}
	if in.Model != nil {
		cols = append(cols, pqfile.ConstColumn{Name: arrowio.ColModel, Value: in.Model.Name})
	}
	for _, s := range in.Sweep {
		var v any
		switch x := s.Value.(type) {
		case float64:
			v = x
			if intParam(in, s.Key) && x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				v = int64(x)
			}
		case string, bool, int64:
			v = x
		case int:
			v = int64(x)
		case float32:
			v = float64(x)
		default:
			v = formatValue(x)
		}
		cols = append(cols, pqfile.ConstColumn{Name: s.Key, Value: v})
	}
	return cols
}

// intParam reports whether key is an integer parameter of the plugin of in or of a stage above it
// (so that its column is int64 in every file, as its typed column in results.parquet).
func intParam(in *Instance, key string) bool {
	for x := in; x != nil; x = x.Input {
		if x.Plugin == nil {
			continue
		}
		for _, p := range x.Plugin.Info.Params {
			if p.Name == key {
				return p.Type == params.Int || p.Type == params.IntList
			}
		}
	}
	return false
}

// TablePath is where a unit's part file of in goes: tables/<stage>/model-<m>/<key>-<value>/….
func (rd *RunDir) TablePath(in *Instance, unit string) string {
	var parts []pqfile.Partition
	for _, seg := range strings.Split(in.Dir(), "/") {
		k, v, _ := strings.Cut(seg, "=")
		parts = append(parts, pqfile.Partition{Key: k, Value: v})
	}
	return pqfile.PartPath(rd.Root, in.Stage.ID, parts, unit)
}

// rel makes path relative to the run directory.
func (rd *RunDir) rel(path string) string {
	r, err := filepath.Rel(rd.Root, path)
	if err != nil {
		return path
	}
	return filepath.ToSlash(r)
}
