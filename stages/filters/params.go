package filters

import (
	"errors"
	"fmt"

	"github.com/vistudy/vistudy/plugins/params"
)

// Parameter names of the stage, shared by the schema and the code that reads it.
const (
	ParamSparsityThreshold = "sparsity_threshold" // a filter is sparse when all |w| < this·max|W| of its layer
	ParamBins              = "bins"               // histogram bins per PCA component
	ParamWeights           = "weights"            // WeightsExplained or WeightsUniform
	ParamKernels           = "kernels"            // also write the raw kernels table
	ParamDepthGroups       = "depth_groups"       // relative-depth groups for the between-group divergence
)

// Weightings of the components in the divergence.
const (
	WeightsExplained = "explained" // each component by its explained variance ratio
	WeightsUniform   = "uniform"   // each component 1/9
)

// Params is the parameter schema of the filters stage.
var Params = []params.Spec{
	{Name: ParamSparsityThreshold, Type: params.Float, Default: 0.01, Min: params.Bound(0), Max: params.Bound(1),
		Description: "a filter is sparse when all its |w| are below this fraction of its layer's max |w|"},
	{Name: ParamBins, Type: params.Int, Default: 70, Min: params.Bound(2),
		Description: "histogram bins per PCA component for the distribution divergence"},
	{Name: ParamWeights, Type: params.String, Default: WeightsExplained, Choices: []string{WeightsExplained, WeightsUniform},
		Description: "component weights of the divergence: explained variance ratio, or uniform 1/9"},
	{Name: ParamKernels, Type: params.Bool, Default: false,
		Description: "also write the raw 3×3 kernels with their layer metadata as a table"},
	{Name: ParamDepthGroups, Type: params.Int, Default: 3, Min: params.Bound(1),
		Description: "relative-depth groups of layers compared with each other in the divergence"},
}

// check validates p against Params and fills in the defaults.
func check(p params.Values) (params.Values, error) {
	v, errs := params.Check(Params, p)
	if len(errs) > 0 {
		return nil, fmt.Errorf("filters parameters: %w", errors.Join(errs...))
	}
	return v, nil
}
