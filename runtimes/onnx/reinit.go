package onnx

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// KaimingUniform draws n weights the way PyTorch initialises Conv and Linear weights by default:
// kaiming_uniform_ with a = sqrt(5), i.e. U(-b, b) with b = gain·sqrt(3/fanIn), gain = sqrt(2/(1+a²)),
// which is b = 1/sqrt(fanIn). fanIn must be positive.
func KaimingUniform(rng *rand.Rand, fanIn int64, n int) []float32 {
	const a2 = 5.0 // a² with a = sqrt(5)
	gain := math.Sqrt(2 / (1 + a2))
	return uniform(rng, gain*math.Sqrt(3/float64(checkFanIn(fanIn))), n)
}

// BiasUniform draws n biases the way PyTorch initialises Conv and Linear biases by default:
// U(-1/sqrt(fanIn), 1/sqrt(fanIn)). fanIn must be positive.
func BiasUniform(rng *rand.Rand, fanIn int64, n int) []float32 {
	return uniform(rng, 1/math.Sqrt(float64(checkFanIn(fanIn))), n)
}

// checkFanIn panics on a fan-in no initialisation bound exists for.
func checkFanIn(fanIn int64) int64 {
	if fanIn <= 0 {
		panic(fmt.Sprintf("onnx: fan-in %d: the initialisation bound needs a positive fan-in", fanIn))
	}
	return fanIn
}

// uniform draws n values from U(-bound, bound).
func uniform(rng *rand.Rand, bound float64, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32((2*rng.Float64() - 1) * bound)
	}
	return out
}
