// Package perturb is the perturb stage: it sends image batches through a perturbation plugin
// and records the provenance columns (perturbation, param) on the result.
package perturb

import (
	"context"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
)

// Plugin is what the stage needs of a perturbation plugin.
type Plugin interface {
	// Apply perturbs batch with the given parameters (JSON) and seed.
	Apply(ctx context.Context, paramsJSON string, batch arrow.RecordBatch, seed uint64) (arrow.RecordBatch, error)
}

// Stage applies one perturbation with one parameter set.
type Stage struct {
	Name    string        // the plugin's name, recorded in the perturbation column
	Params  params.Values // checked parameters of this instance
	Primary string        // the parameter recorded in the param column ("" for none)
	Plugin  Plugin
	Mem     memory.Allocator
}

// Apply perturbs rec and sets the perturbation and param columns; the caller releases both.
func (s *Stage) Apply(ctx context.Context, rec arrow.RecordBatch, seed uint64) (arrow.RecordBatch, error) {
	out, err := s.Plugin.Apply(ctx, s.Params.JSON(), rec, seed)
	if err != nil {
		return nil, fmt.Errorf("perturb %s: %w", s.Name, err)
	}
	defer out.Release()
	n := int(out.NumRows())
	sb := array.NewStringBuilder(s.Mem)
	defer sb.Release()
	fb := array.NewFloat64Builder(s.Mem)
	defer fb.Release()
	param := math.NaN()
	if s.Primary != "" && s.Params.Has(s.Primary) {
		param = s.Params.Float(s.Primary)
	}
	for i := 0; i < n; i++ {
		sb.Append(s.Name)
		fb.Append(param)
	}
	names, vals := sb.NewArray(), fb.NewArray()
	defer names.Release()
	defer vals.Release()
	withName, err := arrowio.SetColumn(out, arrow.Field{Name: arrowio.ColPerturbation, Type: arrow.BinaryTypes.String}, names)
	if err != nil {
		return nil, err
	}
	defer withName.Release()
	return arrowio.SetColumn(withName, arrow.Field{Name: arrowio.ColParam, Type: arrow.PrimitiveTypes.Float64}, vals)
}
