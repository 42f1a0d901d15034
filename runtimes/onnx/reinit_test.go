package onnx

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPyTorchDefaultInitBounds(t *testing.T) {
	const n = 100000
	for _, tc := range []struct {
		name  string
		draw  func(*rand.Rand, int64, int) []float32
		fanIn int64
	}{
		{"kaiming conv1 of squeezenet", KaimingUniform, 27},
		{"kaiming conv10 of squeezenet", KaimingUniform, 512},
		{"kaiming 3x3x512", KaimingUniform, 4608},
		{"bias fan-in 27", BiasUniform, 27},
		{"bias fan-in 4608", BiasUniform, 4608},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bound := 1 / math.Sqrt(float64(tc.fanIn)) // PyTorch: gain·sqrt(3/fan_in), gain = sqrt(2/(1+5))
			v := tc.draw(rand.New(rand.NewPCG(1, 2)), tc.fanIn, n)
			if len(v) != n {
				t.Fatalf("%d values, want %d", len(v), n)
			}
			lo, hi := float64(slices.Min(v)), float64(slices.Max(v))
			if lo < -float64(float32(bound)) || hi > float64(float32(bound)) {
				t.Errorf("range [%g, %g] leaves ±%g", lo, hi, bound)
			}
			if lo > -bound*(1-1e-3) || hi < bound*(1-1e-3) {
				t.Errorf("range [%g, %g] does not reach ±%g", lo, hi, bound)
			}
			var sum, sq float64
			for _, x := range v {
				sum += float64(x)
				sq += float64(x) * float64(x)
			}
			mean := sum / n
			if se := bound / math.Sqrt(3*n); math.Abs(mean) > 5*se {
				t.Errorf("mean %g, more than 5 standard errors (%g) from 0", mean, se)
			}
			if variance, want := sq/n-mean*mean, bound*bound/3; math.Abs(variance/want-1) > 0.02 {
				t.Errorf("variance %g, want %g (uniform on ±bound)", variance, want)
			}
		})
	}
}

func TestInitIsDeterministicPerSeed(t *testing.T) {
	draw := func(seed uint64) []float32 {
		rng := rand.New(rand.NewPCG(seed, 0))
		return append(KaimingUniform(rng, 64, 100), BiasUniform(rng, 64, 10)...)
	}
	a, b, c := draw(7), draw(7), draw(8)
	if !slices.Equal(a, b) {
		t.Error("the same seed gave different values")
	}
	if slices.Equal(a, c) {
		t.Error("different seeds gave the same values")
	}
	// The bias continues the weight's stream: it differs from the first 10 weights.
	if slices.Equal(a[:10], a[100:]) {
		t.Error("bias repeats the weights")
	}
}

func TestInitRejectsNonPositiveFanIn(t *testing.T) {
	for _, fanIn := range []int64{0, -3} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("KaimingUniform with fan-in %d did not panic", fanIn)
				}
			}()
			KaimingUniform(rand.New(rand.NewPCG(1, 1)), fanIn, 1)
		}()
	}
}
