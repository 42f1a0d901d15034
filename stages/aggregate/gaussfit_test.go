package aggregate

import (
	"math"
	"strings"
	"testing"
)

var bands = []float64{0, 1, 2, 3, 4, 5, 6}

// curve samples Gaussian(a, mu, sigma) at the seven bands.
func curve(a, mu, sigma float64) []float64 {
	y := make([]float64, len(bands))
	for i, x := range bands {
		y[i] = Gaussian(a, mu, sigma, x)
	}
	return y
}

func TestFitGaussianRecoversKnownCurves(t *testing.T) {
	cases := []struct{ a, mu, sigma float64 }{
		{2.5, 3.2, 1.3},
		{3.5, 1, 0.8},
		{1.7, 5, 2.2},
		{4, 2.5, 1.6}, // A on its upper bound
		{0.6, 0.3, 3},
		{3, 6.4, 1.1}, // peak beyond the last band
	}
	for _, c := range cases {
		f := FitGaussian(bands, curve(c.a, c.mu, c.sigma))
		if f.Failed != "" {
			t.Errorf("%+v: fit failed: %s", c, f.Failed)
			continue
		}
		if math.Abs(f.A-c.a) > 1e-3 || math.Abs(f.Mu-c.mu) > 1e-3 || math.Abs(f.Sigma-c.sigma) > 1e-3 || f.RMSE > 1e-6 {
			t.Errorf("%+v: got A=%.6f μ=%.6f σ=%.6f rmse=%.2g after %d iterations", c, f.A, f.Mu, f.Sigma, f.RMSE, f.Iterations)
		}
	}
}

func TestFitGaussianKeepsABound(t *testing.T) {
	// The data peak at 6 > 4: the constrained optimum holds A = 4 and fits μ and σ to the rest.
	f := FitGaussian(bands, curve(6, 3, 1.5))
	if f.Failed != "" {
		t.Fatalf("fit failed: %s", f.Failed)
	}
	if f.A != 4 {
		t.Errorf("A = %v, want the bound 4", f.A)
	}
	if math.Abs(f.Mu-3) > 1e-6 || f.Sigma <= 1.5 {
		t.Errorf("μ = %v (want 3 by symmetry), σ = %v (want wider than 1.5 to reach the higher points)", f.Mu, f.Sigma)
	}
	// The projected gradient vanishes at the constrained optimum: nudging μ or σ does not lower the cost.
	p := [3]float64{f.A, f.Mu, f.Sigma}
	y := curve(6, 3, 1.5)
	c0 := gaussCost(p, bands, y)
	for i := 1; i < 3; i++ {
		for _, h := range []float64{-1e-4, 1e-4} {
			q := p
			q[i] += h
			if gaussCost(q, bands, y) < c0-1e-12 {
				t.Errorf("moving parameter %d by %g lowers the cost: not a minimum", i, h)
			}
		}
	}
}

func TestFitGaussianFailures(t *testing.T) {
	cases := []struct {
		name string
		x, y []float64
		want string
	}{
		{"flat zero", bands, make([]float64, 7), "all thresholds are 0"},
		{"flat non-zero", bands, []float64{2, 2, 2, 2, 2, 2, 2}, "sigma ran off"},
		{"single spike", bands, []float64{0, 0, 0, 3, 0, 0, 0}, "sigma collapsed"},
		{"two points", []float64{0, 1}, []float64{1, 2}, "2 points"},
		{"mismatched lengths", bands, []float64{1}, "7 x values but 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := FitGaussian(c.x, c.y)
			if f.Failed == "" {
				t.Fatalf("fit reported success: A=%v μ=%v σ=%v rmse=%v", f.A, f.Mu, f.Sigma, f.RMSE)
			}
			if !strings.Contains(f.Failed, c.want) {
				t.Errorf("reason %q does not mention %q", f.Failed, c.want)
			}
			if strings.ContainsAny(f.Failed, ",=") {
				t.Errorf("reason %q cannot stand in a result group", f.Failed)
			}
		})
	}
}

func TestFitGaussianIntegerThresholdsMirror(t *testing.T) {
	// Mirroring the bands (x → 6 − x) must mirror μ and leave A, σ and the residual unchanged;
	// a symmetric profile puts μ on its centre.
	cases := [][]float64{{0, 0, 0, 1, 2, 2, 1}, {0, 0, 1, 2, 2, 1, 0}, {0, 1, 2, 3, 2, 1, 0}, {0, 0, 0, 0, 1, 2, 3}}
	for _, y := range cases {
		m := make([]float64, len(y))
		for i := range y {
			m[i] = y[len(y)-1-i]
		}
		f, g := FitGaussian(bands, y), FitGaussian(bands, m)
		if f.Failed != "" || g.Failed != "" {
			t.Errorf("%v: failed: %q / mirrored %q", y, f.Failed, g.Failed)
			continue
		}
		if math.Abs(f.A-g.A) > 1e-6 || math.Abs(f.Mu-(6-g.Mu)) > 1e-6 || math.Abs(f.Sigma-g.Sigma) > 1e-6 || math.Abs(f.RMSE-g.RMSE) > 1e-9 {
			t.Errorf("%v: fit A=%.6f μ=%.6f σ=%.6f rmse=%.6f; mirrored A=%.6f μ=%.6f σ=%.6f rmse=%.6f",
				y, f.A, f.Mu, f.Sigma, f.RMSE, g.A, g.Mu, g.Sigma, g.RMSE)
		}
	}
	if f := FitGaussian(bands, []float64{0, 1, 2, 3, 2, 1, 0}); math.Abs(f.Mu-3) > 1e-6 || f.RMSE == 0 {
		t.Errorf("symmetric profile: μ = %v (want 3), rmse = %v (want > 0: integers are not a Gaussian)", f.Mu, f.RMSE)
	}
}
