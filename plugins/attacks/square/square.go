package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/attacks/gradattack"
	"github.com/vistudy/vistudy/plugins/attacks/imagemap"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// Parameters besides the shared ones of gradattack.
const (
	paramQueries = "queries" // iterations per restart (one model query per active sample each)
	paramPInit   = "p_init"  // initial share of the image a square covers
)

// square is the Square attack of Andriushchenko et al. (ECCV 2020) in AutoAttack's L∞ version
// (ANALYSES.md G): stripe initialisation, then random squares of ±2·eps per channel, kept when
// the margin logit_y − max_{k≠y} logit_k (or the cross-entropy's negative) decreases.
type square struct{}

func (square) Info() sdk.Info {
	return sdk.Info{
		Name: "square", Version: "0.1.0",
		Description: "Square attack (L∞, gradient-free, AutoAttack's schedule): random ±2·eps squares kept when the margin drops; queries only Predict",
		Params: []params.Spec{
			{Name: gradattack.ParamEps, Type: params.Float, Default: 4.0 / 255, Min: params.Bound(0), Max: params.Bound(1),
				Description: "L∞ radius in [0,1] pixel units"},
			{Name: gradattack.ParamNorm, Type: params.String, Default: gradattack.NormLinf, Choices: []string{gradattack.NormLinf},
				Description: "threat model (only linf is implemented)"},
			{Name: paramQueries, Type: params.Int, Default: 1000, Min: params.Bound(0), Max: params.Bound(100000),
				Description: "iterations per restart; p's schedule is scaled to this budget as AutoAttack does"},
			{Name: gradattack.ParamRestarts, Type: params.Int, Default: 1, Min: params.Bound(1), Max: params.Bound(100), Description: "attempts for samples not yet broken"},
			{Name: paramPInit, Type: params.Float, Default: 0.8, Min: params.Bound(0), Max: params.Bound(1), Description: "initial share of the image a square covers"},
			{Name: gradattack.ParamLoss, Type: params.String, Default: "margin", Choices: []string{"margin", "cross_entropy"},
				Description: "what a step must lower: the margin, or the negative cross-entropy"},
			{Name: gradattack.ParamSaveDelta, Type: params.Bool, Default: false, Description: "add the perturbation x_adv − x as a tensor column delta"},
		},
		NeedsModel: true, Requires: []string{arrowio.ColImage, arrowio.ColLabel}, PrimaryParam: gradattack.ParamEps,
	}
}

// pSchedule is AutoAttack's schedule: p_init halves after iterations 10, 50, 200, 500, 1000,
// 2000, 4000, 6000 and 8000 of a 10,000-iteration budget, scaled to the actual budget.
func pSchedule(it, budget int, pInit float64) float64 {
	if budget > 0 {
		it = int(float64(it) / float64(budget) * 10000)
	}
	for i, bound := range []int{10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000} {
		if it <= bound {
			return pInit / math.Pow(2, float64(i))
		}
	}
	return pInit / 512
}

// side is the square's side for share p of an h×w image: round(sqrt(p·h·w)) within [1, min(h, w)],
// so that non-square images get squares that fit.
func side(p float64, h, w int) int {
	return min(max(int(math.Round(math.Sqrt(p*float64(h*w)))), 1), min(h, w))
}

// state is one sample's attack.
type state struct {
	rng  *rand.Rand
	best []float32 // best image so far
	loss float64   // its loss (lower is better for the attack)
}

func (square) Apply(ctx context.Context, p params.Values, batch arrow.RecordBatch, env *sdk.Env) (arrow.RecordBatch, error) {
	seeds := sdk.RowSeeds(env.Seed, batch) // per sample: the same draws in any batch
	eps, budget, restarts, pInit := p.Float(gradattack.ParamEps), p.Int(paramQueries), p.Int(gradattack.ParamRestarts), p.Float(paramPInit)
	ce := p.String(gradattack.ParamLoss) == "cross_entropy"
	images, err := arrowio.TensorColumn(batch, arrowio.ColImage)
	if err != nil {
		return nil, err
	}
	shape, err := imagemap.ImageShape(batch)
	if err != nil {
		return nil, err
	}
	labels, err := arrowio.Int32Column(batch, arrowio.ColLabel)
	if err != nil {
		return nil, err
	}
	C, H, W := shape.C, shape.H, shape.W
	size := C * H * W
	clean := images.Values()
	adv := append([]float32(nil), clean...)
	queries := make([]int32, len(labels))
	success := make([]bool, len(labels))
	q := querier{env: env, shape: []int{C, H, W}, size: size}
	var active []int
	var labelled []int
	for i, y := range labels {
		if y >= 0 {
			labelled = append(labelled, i)
		}
	}
	if len(labelled) > 0 {
		l, err := q.predict(ctx, adv, labelled)
		if err != nil {
			return nil, err
		}
		for j, i := range labelled {
			queries[i]++
			if int(labels[i]) >= l.K {
				return nil, fmt.Errorf("sample %d has label %d but the model returns %d logits: the dataset's label space does not match the model's", i, labels[i], l.K)
			}
			if margin(l.Row(j), labels[i]) > 0 {
				active = append(active, i)
			} else {
				success[i] = true
			}
		}
	}
	states := make([]state, len(labels))
	for r := 0; r < restarts && len(active) > 0 && eps > 0; r++ {
		// stripe initialisation: x + eps·(±1) per channel and column
		for _, i := range active {
			s := &states[i]
			s.rng = rand.New(rand.NewPCG(seeds[i], uint64(r)))
			s.best = make([]float32, size)
			x0 := clean[i*size : (i+1)*size]
			for c := 0; c < C; c++ {
				for col := 0; col < W; col++ {
					d := float32(eps * randSign(s.rng))
					for row := 0; row < H; row++ {
						k := (c*H+row)*W + col
						s.best[k] = gradattack.Clip01(x0[k] + d)
					}
				}
			}
			copy(adv[i*size:(i+1)*size], s.best)
		}
		l, err := q.predict(ctx, adv, active)
		if err != nil {
			return nil, err
		}
		active = q.settle(active, l, labels, queries, success, states, ce, nil)
		for it := 0; it < budget && len(active) > 0; it++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			sd := side(pSchedule(it, budget, pInit), H, W)
			cand := make([][]float32, len(labels))
			for _, i := range active {
				s := &states[i]
				x := append([]float32(nil), s.best...)
				x0 := clean[i*size : (i+1)*size]
				vh, vw := s.rng.IntN(H-sd+1), s.rng.IntN(W-sd+1)
				for c := 0; c < C; c++ {
					d := 2 * eps * randSign(s.rng)
					for row := vh; row < vh+sd; row++ {
						for col := vw; col < vw+sd; col++ {
							k := (c*H+row)*W + col
							v := float64(x[k]) + d
							v = math.Min(math.Max(v, float64(x0[k])-eps), float64(x0[k])+eps)
							x[k] = gradattack.Clip01(float32(v))
						}
					}
				}
				cand[i] = x
				copy(adv[i*size:(i+1)*size], x)
			}
			l, err := q.predict(ctx, adv, active)
			if err != nil {
				return nil, fmt.Errorf("restart %d, iteration %d: %w", r+1, it+1, err)
			}
			active = q.settle(active, l, labels, queries, success, states, ce, cand)
		}
		for i := range states { // adv holds the last candidates; put back each sample's best
			if states[i].best != nil {
				copy(adv[i*size:(i+1)*size], states[i].best)
			}
		}
	}
	return gradattack.WithColumns(batch, clean, adv, labels, success, queries, shape, p.Bool(gradattack.ParamSaveDelta), env)
}

// settle counts a query for each active row, keeps each candidate that lowers the loss or
// misclassifies (cand nil: the logits are those of the current best images) and returns the
// rows whose margin is still positive.
func (q querier) settle(active []int, l *sdk.Logits, labels []int32, queries []int32, success []bool, states []state, ce bool, cand [][]float32) []int {
	var still []int
	for j, i := range active {
		queries[i]++
		s := &states[i]
		row := l.Row(j)
		m := margin(row, labels[i])
		loss := m
		if ce {
			loss = -crossEntropy(row, labels[i])
		}
		if cand == nil || loss < s.loss || m <= 0 {
			s.loss = loss
			if cand != nil {
				s.best = cand[i]
			}
		}
		if m <= 0 {
			success[i] = true
			continue
		}
		still = append(still, i)
	}
	return still
}

// margin is logit_y − max_{k≠y} logit_k: ≤ 0 when the sample is misclassified.
func margin(row []float32, y int32) float64 {
	best := math.Inf(-1)
	for k, v := range row {
		if k != int(y) {
			best = math.Max(best, float64(v))
		}
	}
	return float64(row[y]) - best
}

func crossEntropy(row []float32, y int32) float64 {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	s := 0.0
	for _, v := range row {
		s += math.Exp(float64(v) - mx)
	}
	return mx + math.Log(s) - float64(row[y])
}

func randSign(rng *rand.Rand) float64 {
	if rng.IntN(2) == 0 {
		return -1
	}
	return 1
}

// querier sends the rows of a flat image buffer to the model oracle.
type querier struct {
	env   *sdk.Env
	shape []int
	size  int
}

func (q querier) predict(ctx context.Context, x []float32, rows []int) (*sdk.Logits, error) {
	return gradattack.Predict(ctx, q.env, q.shape, x, rows)
}
