package criticality

import (
	"errors"
	"fmt"

	"github.com/vistudy/vistudy/plugins/params"
)

// Parameter names of the stage, shared by the schema and the code that reads it.
const (
	ParamTrials    = "trials"    // resets per layer, each with its own seed
	ParamInit      = "init"      // InitKaiming or InitZeros
	ParamLayers    = "layers"    // layer names to reset; empty: every Conv, Gemm and MatMul layer
	ParamBatchNorm = "batchnorm" // also reset BatchNormalization layers
)

// Initialisations a reset can draw.
const (
	InitKaiming = "kaiming" // PyTorch's default initialisation of the layer
	InitZeros   = "zeros"   // the weight (BatchNormalization: the scale) zeroed, the rest kept trained
)

// Params is the parameter schema of the criticality stage.
var Params = []params.Spec{
	{Name: ParamTrials, Type: params.Int, Default: 3, Min: params.Bound(1),
		Description: "re-initialisations per layer, each with its own seed"},
	{Name: ParamInit, Type: params.String, Default: InitKaiming, Choices: []string{InitKaiming, InitZeros},
		Description: "kaiming: PyTorch's default initialisation (Kaiming-uniform a=√5, bias U(±1/√fan_in)); zeros: the weight 0, the trained bias kept"},
	{Name: ParamLayers, Type: params.StringList, Default: []string{},
		Description: "layer (node) names to reset; empty: every Conv and Gemm/MatMul layer with initializer weights"},
	{Name: ParamBatchNorm, Type: params.Bool, Default: false,
		Description: "also reset BatchNormalization layers, to scale 1, bias 0, running mean 0, running variance 1"},
}

// check validates p against Params and fills in the defaults.
func check(p params.Values) (params.Values, error) {
	v, errs := params.Check(Params, p)
	if len(errs) > 0 {
		return nil, fmt.Errorf("criticality parameters: %w", errors.Join(errs...))
	}
	return v, nil
}
