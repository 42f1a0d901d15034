package aggregate

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Gaussian is the critical-band curve A·exp(−(x−μ)²/(2σ²)).
func Gaussian(a, mu, sigma, x float64) float64 {
	d := x - mu
	return a * math.Exp(-d*d/(2*sigma*sigma))
}

// GaussFit is the outcome of fitting Gaussian to points.
type GaussFit struct {
	A, Mu, Sigma float64 // Sigma ≥ 0 (the curve is symmetric in σ)
	RMSE         float64 // root mean squared residual
	Iterations   int
	Failed       string // why the fit gives no numbers; "" when it converged
}

// The fit's fixed settings: the start of ANALYSES.md D, the box on A, and when a fit counts as degenerate.
const (
	gaussStartA, gaussStartMu, gaussStartSigma = 1.0, 0.0, 1.0
	gaussMinA, gaussMaxA                       = 0.0, 4.0
	gaussMaxIter                               = 1000
	// Below this σ the curve one band from its peak is under exp(−8) ≈ 0.03 % of A: the one-octave
	// spacing does not resolve the width (a single spiking band fits any smaller σ equally well).
	gaussMinSigma = 0.25
	// σ or |μ| beyond this means the curve degenerated into a flat or monotone line over the bands.
	gaussMaxSpread = 100.0
)

// FitGaussian fits Gaussian to (x, y) by least squares from A=1, μ=0, σ=1 with A ∈ [0, 4], using a
// Levenberg–Marquardt iteration whose bound on A is kept by an active set: while A sits on a bound and
// the gradient pushes it outward, A is held there and only μ and σ move (as a trust-region solver with
// bounds does, rather than clipping a step that ignored the bound).
func FitGaussian(x, y []float64) GaussFit {
	if len(x) != len(y) {
		return GaussFit{Failed: fmt.Sprintf("%d x values but %d y values", len(x), len(y))}
	}
	if len(x) < 3 {
		return GaussFit{Failed: fmt.Sprintf("%d points cannot determine 3 parameters", len(x))}
	}
	allZero := true
	for _, v := range y {
		allZero = allZero && v == 0
	}
	if allZero {
		return GaussFit{Failed: "all thresholds are 0"}
	}
	p := [3]float64{gaussStartA, gaussStartMu, gaussStartSigma}
	cost := gaussCost(p, x, y)
	lambda := 1e-3
	fit := GaussFit{}
	converged := false
	for fit.Iterations = 0; fit.Iterations < gaussMaxIter && !converged; fit.Iterations++ {
		jtj, grad := gaussNormal(p, x, y)
		free := [3]bool{true, true, true}
		if (p[0] <= gaussMinA && grad[0] > 0) || (p[0] >= gaussMaxA && grad[0] < 0) {
			free[0] = false // descent would leave the box: hold A on its bound
		}
		if projectedNorm(grad, free) <= 1e-12*(1+cost) {
			converged = true
			break
		}
		stepped := false
		for !stepped {
			step, ok := dampedStep(jtj, grad, free, lambda)
			next := p
			for i := range next {
				next[i] += step[i]
			}
			next[0] = math.Min(math.Max(next[0], gaussMinA), gaussMaxA)
			if !ok || math.Abs(next[2]) < 1e-9 {
				lambda *= 10
			} else if c := gaussCost(next, x, y); c < cost {
				small := math.Abs(next[0]-p[0])+math.Abs(next[1]-p[1])+math.Abs(next[2]-p[2]) <=
					1e-12*(math.Abs(p[0])+math.Abs(p[1])+math.Abs(p[2])+1e-12)
				converged = small || cost-c <= 1e-15*cost || c < 1e-30
				p, cost, stepped = next, c, true
				lambda = math.Max(lambda/10, 1e-12)
			} else {
				lambda *= 10
			}
			if lambda > 1e16 {
				// No step lowers the cost any more: a minimum to working precision.
				converged = true
				break
			}
		}
		if math.Abs(p[2]) > gaussMaxSpread*10 || math.Abs(p[1]) > gaussMaxSpread*10 {
			break // running away: report it below instead of iterating to the limit
		}
	}
	fit.A, fit.Mu, fit.Sigma = p[0], p[1], math.Abs(p[2])
	fit.RMSE = math.Sqrt(2 * cost / float64(len(x)))
	switch {
	case math.IsNaN(cost) || math.IsInf(cost, 0) || math.IsNaN(fit.Mu) || math.IsNaN(fit.Sigma):
		fit.Failed = "the fit diverged to non-finite values"
	case fit.Sigma > gaussMaxSpread:
		fit.Failed = fmt.Sprintf("sigma ran off to %.3g (a flat curve: no band is singled out)", fit.Sigma)
	case math.Abs(fit.Mu) > gaussMaxSpread:
		fit.Failed = fmt.Sprintf("mu ran off to %.3g (the peak lies far outside the bands)", fit.Mu)
	case !converged:
		fit.Failed = fmt.Sprintf("no convergence after %d iterations", fit.Iterations)
	case fit.A <= gaussMinA:
		fit.Failed = "amplitude 0 leaves mu and sigma undetermined"
	case fit.Sigma < gaussMinSigma:
		fit.Failed = fmt.Sprintf("sigma collapsed to %.3g (narrower than the band spacing resolves)", fit.Sigma)
	}
	return fit
}

// gaussCost is half the sum of squared residuals at p = (A, μ, σ).
func gaussCost(p [3]float64, x, y []float64) float64 {
	var c float64
	for i := range x {
		r := Gaussian(p[0], p[1], p[2], x[i]) - y[i]
		c += r * r
	}
	return c / 2
}

// gaussNormal returns JᵀJ and the gradient Jᵀr of the residuals at p.
func gaussNormal(p [3]float64, x, y []float64) (jtj [3][3]float64, grad [3]float64) {
	a, mu, s := p[0], p[1], p[2]
	for i := range x {
		d := x[i] - mu
		e := math.Exp(-d * d / (2 * s * s))
		r := a*e - y[i]
		j := [3]float64{e, a * e * d / (s * s), a * e * d * d / (s * s * s)}
		for u := range 3 {
			grad[u] += j[u] * r
			for v := range 3 {
				jtj[u][v] += j[u] * j[v]
			}
		}
	}
	return jtj, grad
}

// projectedNorm is the largest gradient component over the free parameters.
func projectedNorm(grad [3]float64, free [3]bool) float64 {
	var m float64
	for i, g := range grad {
		if free[i] {
			m = math.Max(m, math.Abs(g))
		}
	}
	return m
}

// dampedStep solves (JᵀJ + λI) δ = −Jᵀr over the free parameters. Levenberg's λI, not Marquardt's
// λ·diag(JᵀJ): from the start μ=0, σ=1 the data barely constrain μ and σ, and diagonal scaling lets the
// first steps throw σ to 10³–10⁵ (a flat curve) where λI keeps them short (tested on peaks at bands 3–6).
func dampedStep(jtj [3][3]float64, grad [3]float64, free [3]bool, lambda float64) (step [3]float64, ok bool) {
	var idx []int
	for i, f := range free {
		if f {
			idx = append(idx, i)
		}
	}
	n := len(idx)
	m := mat.NewDense(n, n, nil)
	b := mat.NewVecDense(n, nil)
	for u, i := range idx {
		for v, j := range idx {
			m.Set(u, v, jtj[i][j])
		}
		m.Set(u, u, jtj[i][i]+lambda)
		b.SetVec(u, -grad[i])
	}
	var sol mat.VecDense
	if err := sol.SolveVec(m, b); err != nil {
		return step, false
	}
	for u, i := range idx {
		step[i] = sol.AtVec(u)
		if math.IsNaN(step[i]) || math.IsInf(step[i], 0) {
			return step, false
		}
	}
	return step, true
}
