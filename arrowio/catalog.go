package arrowio

import (
	"path"

	"github.com/apache/arrow-go/v18/arrow"
)

// Directions of a metric (MetricInfo.Better).
const (
	Higher = "higher" // a higher value is better (accuracy)
	Lower  = "lower"  // a lower value is better (error, calibration error)
)

// MetricInfo declares one metric a plugin or stage kind reports: the metric catalogue's entry.
type MetricInfo struct {
	Name     string  `json:"metric"`             // the metric column's value; a trailing * matches any suffix (top*)
	Unit     string  `json:"unit"`               // fraction, count, cycles/image, octaves, nats, pixels, …
	Min      float64 `json:"min"`                // the range's lower end (Min == Max: none declared)
	Max      float64 `json:"max"`                // the range's upper end
	Better   string  `json:"better,omitempty"`   // Higher, Lower or "" where neither is better (a bias)
	Meaning  string  `json:"meaning"`            // one line
	Headline bool    `json:"headline,omitempty"` // a column of the leaderboard (`vistudy summary`)
	Label    string  `json:"label,omitempty"`    // the leaderboard's short header ("top-1"); "" for the name
	// Diagnostic marks a number about the computation rather than the model (a count, a fit
	// parameter): the report shows it folded away under the analysis table.
	Diagnostic bool `json:"diagnostic,omitempty"`
}

// Matches reports whether the entry declares metric (exactly, or by its trailing-* prefix).
func (m MetricInfo) Matches(metric string) bool {
	if ok, _ := path.Match(m.Name, metric); ok {
		return true
	}
	return m.Name == metric
}

// HasRange reports whether a range is declared.
func (m MetricInfo) HasRange() bool { return m.Min != m.Max }

// Lookup returns the first entry of infos that declares metric.
func Lookup(infos []MetricInfo, metric string) (MetricInfo, bool) {
	for _, m := range infos {
		if m.Matches(metric) {
			return m, true
		}
	}
	return MetricInfo{}, false
}

// CatalogEntry is one row of metrics.parquet: a (stage, metric) of the results and what it means.
type CatalogEntry struct {
	Stage  string `json:"stage"`
	Source string `json:"source"` // the plugin or stage kind that declared it ("" when none did)
	MetricInfo
	Metric string `json:"-"` // the metric as reported (MetricInfo.Name may be a pattern)
}

// MetricsSchema is the schema of metrics.parquet, the metric catalogue of a run.
var MetricsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "stage", Type: arrow.BinaryTypes.String},
	{Name: "metric", Type: arrow.BinaryTypes.String},
	{Name: "unit", Type: arrow.BinaryTypes.String},
	{Name: "min", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "max", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "higher_is_better", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "headline", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "diagnostic", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "label", Type: arrow.BinaryTypes.String},
	{Name: "meaning", Type: arrow.BinaryTypes.String},
	{Name: "source", Type: arrow.BinaryTypes.String},
}, nil)
