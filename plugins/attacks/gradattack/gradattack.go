// Package gradattack holds the white-box attacks that follow the model oracle's input gradient:
// FGSM and PGD (L∞ and L2, random start, restarts), for the fgsm and pgd perturbation plugins.
//
// Samples the model already misclassifies (and unlabelled ones) are left unchanged and count as
// broken, so accuracy measured on the perturbed batch is the robust accuracy.
package gradattack

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/attacks/imagemap"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// Parameter names shared by the attack plugins, so that `sweep: [eps]` works across them.
const (
	ParamEps         = "eps"           // radius of the threat model, in [0,1] pixel units
	ParamNorm        = "norm"          // linf or l2
	ParamSteps       = "steps"         // gradient steps per restart
	ParamStepSize    = "step_size"     // absolute step; 0: 2.5·eps/steps
	ParamRelative    = "step_relative" // step_size is a multiple of eps
	ParamRestarts    = "restarts"      // attempts from new random starts for samples not yet broken
	ParamRandomStart = "random_start"  // start from a uniform point of the eps-ball
	ParamLoss        = "loss"          // cross_entropy (ascended) or margin (descended)
	ParamSaveDelta   = "save_delta"    // add the perturbation δ = x_adv − x as a tensor column
)

// Columns the attacks add.
const (
	ColSuccess = "success" // bool: the label is not the arg-max at the end (null: unlabelled)
	ColQueries = "queries" // int32: oracle calls that included the sample
	ColDelta   = "delta"   // tensor like image: x_adv − x, when save_delta
)

// Norms.
const (
	NormLinf = "linf"
	NormL2   = "l2"
)

// Attack is FGSM or PGD as a perturbation plugin.
type Attack struct {
	name, description string
	fgsm              bool
}

// PGD is projected gradient descent (Madry et al.) with random start and restarts.
func PGD() Attack {
	return Attack{name: "pgd", description: "projected gradient descent on the model's input gradient (L∞ or L2), random start, restarts"}
}

// FGSM is the fast gradient sign method: one step of size eps along sign(∇) (L∞) or ∇/‖∇‖ (L2).
func FGSM() Attack {
	return Attack{name: "fgsm", fgsm: true, description: "fast gradient sign method: one step of eps along the input gradient's sign"}
}

// Info declares the attack's parameters.
func (a Attack) Info() sdk.Info {
	ps := []params.Spec{
		{Name: ParamEps, Type: params.Float, Default: 4.0 / 255, Min: params.Bound(0), Max: params.Bound(1000),
			Description: "radius of the perturbation, in [0,1] pixel units (L∞: per pixel; L2: of the whole image)"},
		{Name: ParamNorm, Type: params.String, Default: NormLinf, Choices: []string{NormLinf, NormL2}, Description: "threat model"},
		{Name: ParamLoss, Type: params.String, Default: "cross_entropy", Choices: []string{"cross_entropy", "margin"},
			Description: "loss followed: cross-entropy ascended, or the margin logit_y − max_{k≠y} logit_k descended"},
		{Name: ParamSaveDelta, Type: params.Bool, Default: false, Description: "add the perturbation x_adv − x as a tensor column delta"},
	}
	if !a.fgsm {
		ps = append(ps,
			params.Spec{Name: ParamSteps, Type: params.Int, Default: 10, Min: params.Bound(0), Max: params.Bound(100000), Description: "gradient steps per restart"},
			params.Spec{Name: ParamStepSize, Type: params.Float, Default: 0.0, Min: params.Bound(0),
				Description: "step size; 0 means 2.5·eps/steps; with step_relative a multiple of eps"},
			params.Spec{Name: ParamRelative, Type: params.Bool, Default: false, Description: "step_size is relative to eps"},
			params.Spec{Name: ParamRestarts, Type: params.Int, Default: 1, Min: params.Bound(1), Max: params.Bound(1000), Description: "attempts per sample (each from a new random start)"},
			params.Spec{Name: ParamRandomStart, Type: params.Bool, Default: true, Description: "start from a uniform point of the eps-ball"},
		)
	}
	return sdk.Info{Name: a.name, Version: "0.1.0", Description: a.description, Params: ps, NeedsModel: true, NeedsGradient: true,
		Requires: []string{arrowio.ColImage, arrowio.ColLabel}, PrimaryParam: ParamEps}
}

// config is one Apply's parameters.
type config struct {
	eps, step       float64
	l2, margin      bool
	steps, restarts int
	randomStart     bool
	saveDelta       bool
}

func (a Attack) config(p params.Values) config {
	c := config{eps: p.Float(ParamEps), l2: p.String(ParamNorm) == NormL2, margin: p.String(ParamLoss) == "margin",
		saveDelta: p.Bool(ParamSaveDelta), steps: 1, restarts: 1}
	if a.fgsm {
		c.step = c.eps
		return c
	}
	c.steps, c.restarts, c.randomStart = p.Int(ParamSteps), p.Int(ParamRestarts), p.Bool(ParamRandomStart)
	c.step = p.Float(ParamStepSize)
	switch {
	case c.step == 0 && c.steps > 0:
		c.step = 2.5 * c.eps / float64(c.steps)
	case p.Bool(ParamRelative):
		c.step *= c.eps
	}
	return c
}

// Apply attacks every correctly classified labelled sample of the batch.
func (a Attack) Apply(ctx context.Context, p params.Values, batch arrow.RecordBatch, env *sdk.Env) (arrow.RecordBatch, error) {
	seeds := sdk.RowSeeds(env.Seed, batch) // per sample: the same draws in any batch
	c := a.config(p)
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
	size := shape.C * shape.H * shape.W
	clean := images.Values()
	adv := append([]float32(nil), clean...)
	queries := make([]int32, len(labels))
	success := make([]bool, len(labels))
	var labelled []int
	for i, y := range labels {
		if y >= 0 {
			labelled = append(labelled, i)
		}
	}
	o := oracle{env: env, shape: []int{shape.C, shape.H, shape.W}, size: size}
	var active []int // labelled samples still classified correctly
	if len(labelled) > 0 {
		logits, err := o.predict(ctx, adv, labelled)
		if err != nil {
			return nil, err
		}
		for j, i := range labelled {
			queries[i]++
			if correct(logits.Row(j), labels[i]) {
				active = append(active, i)
			} else {
				success[i] = true
			}
		}
	}
	for r := 0; r < c.restarts && len(active) > 0; r++ {
		x := make([]float32, len(adv))
		copy(x, clean)
		for _, i := range active {
			rng := rand.New(rand.NewPCG(seeds[i], uint64(r)))
			if c.randomStart && c.eps > 0 {
				randomStart(x[i*size:(i+1)*size], clean[i*size:(i+1)*size], c, rng)
			}
		}
		for s := 0; s <= c.steps && len(active) > 0; s++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if s == c.steps { // the last step's images: only their logits are needed
				logits, err := o.predict(ctx, x, active)
				if err != nil {
					return nil, err
				}
				active = settle(active, logits, labels, queries, success, adv, x, size)
				break
			}
			ys := make([]int32, len(active))
			for j, i := range active {
				ys[j] = labels[i]
			}
			g, err := o.gradient(ctx, x, active, ys, c.margin)
			if err != nil {
				return nil, fmt.Errorf("restart %d, step %d: %w", r+1, s+1, err)
			}
			// the gradient call's logits are those of the current images: stop where they are broken
			still := settle(active, &g.Logits, labels, queries, success, adv, x, size)
			for j, i := range active {
				if success[i] {
					continue
				}
				gi := g.Grad[j*size : (j+1)*size]
				if c.margin {
					for k := range gi {
						gi[k] = -gi[k]
					}
				}
				step(x[i*size:(i+1)*size], clean[i*size:(i+1)*size], gi, c)
			}
			active = still
		}
	}
	return WithColumns(batch, clean, adv, labels, success, queries, shape, c.saveDelta, env)
}

// settle counts a query for every row of active, keeps the current image x of each and returns
// the rows still classified correctly; the others are marked successful.
func settle(active []int, logits *sdk.Logits, labels []int32, queries []int32, success []bool, adv, x []float32, size int) []int {
	var still []int
	for j, i := range active {
		queries[i]++
		copy(adv[i*size:(i+1)*size], x[i*size:(i+1)*size])
		if correct(logits.Row(j), labels[i]) {
			still = append(still, i)
		} else {
			success[i] = true
		}
	}
	return still
}

// correct reports whether y is the arg-max of row (ties to the lower index, as sdk.Rank).
func correct(row []float32, y int32) bool { return int(y) < len(row) && sdk.Rank(row, y) == 0 }

// randomStart puts x uniformly in the eps-ball around x0 (L∞: per pixel; L2: a uniform direction
// and radius eps·u^(1/d)), clipped to [0,1].
func randomStart(x, x0 []float32, c config, rng *rand.Rand) {
	if !c.l2 {
		for k := range x {
			x[k] = Clip01(x0[k] + float32(c.eps*(2*rng.Float64()-1)))
		}
		return
	}
	d := make([]float64, len(x))
	norm := 0.0
	for k := range d {
		d[k] = rng.NormFloat64()
		norm += d[k] * d[k]
	}
	r := c.eps * math.Pow(rng.Float64(), 1/float64(len(x))) / math.Sqrt(norm)
	for k := range x {
		x[k] = Clip01(x0[k] + float32(r*d[k]))
	}
}

// step moves x along g (ascent) by c.step and projects onto the eps-ball around x0 and [0,1].
func step(x, x0, g []float32, c config) {
	if !c.l2 {
		for k := range x {
			v := float64(x[k]) + c.step*sign(g[k])
			v = math.Min(math.Max(v, float64(x0[k])-c.eps), float64(x0[k])+c.eps)
			x[k] = Clip01(float32(v))
		}
		return
	}
	gn := 0.0
	for _, v := range g {
		gn += float64(v) * float64(v)
	}
	gn = math.Sqrt(gn)
	if gn > 0 {
		for k := range x {
			x[k] += float32(c.step * float64(g[k]) / gn)
		}
	}
	dn := 0.0
	for k := range x {
		d := float64(x[k] - x0[k])
		dn += d * d
	}
	dn = math.Sqrt(dn)
	f := 1.0
	if dn > c.eps {
		f = c.eps / dn
	}
	for k := range x {
		x[k] = Clip01(x0[k] + float32(f*float64(x[k]-x0[k])))
	}
}

func sign(v float32) float64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// Clip01 clamps a pixel value to the valid range [0, 1].
func Clip01(v float32) float32 { return min(1, max(0, v)) }

// oracle gathers the rows of a flat image buffer for the model oracle.
type oracle struct {
	env   *sdk.Env
	shape []int
	size  int
}

func (o oracle) rows(x []float32, rows []int) (*arrowio.TensorArray, error) {
	data := make([]float32, 0, len(rows)*o.size)
	for _, i := range rows {
		data = append(data, x[i*o.size:(i+1)*o.size]...)
	}
	return arrowio.NewTensorArray(o.env.Mem, o.shape, data)
}

// OracleChunkPixels bounds the pixels one oracle call carries (32 images of 224×224): the
// runtime holds every activation of a gradient call at once (SqueezeNet: about 20 MB per
// 224×224 image), so large batches go in chunks.
const OracleChunkPixels = 32 * 224 * 224

// OracleChunk is how many images of size values (C·H·W) one oracle call carries.
func OracleChunk(size int) int { return max(1, 3*OracleChunkPixels/max(size, 1)) }

// Predict asks env's oracle for the logits of the given rows of x (images of shape, row-major),
// in calls of at most OracleChunk images: what every attack that queries a model needs.
func Predict(ctx context.Context, env *sdk.Env, shape []int, x []float32, rows []int) (*sdk.Logits, error) {
	size := 1
	for _, d := range shape {
		size *= d
	}
	return oracle{env: env, shape: shape, size: size}.predict(ctx, x, rows)
}

func (o oracle) predict(ctx context.Context, x []float32, rows []int) (*sdk.Logits, error) {
	out := &sdk.Logits{}
	chunk := OracleChunk(o.size)
	for lo := 0; lo < len(rows); lo += chunk {
		part := rows[lo:min(lo+chunk, len(rows))]
		arr, err := o.rows(x, part)
		if err != nil {
			return nil, err
		}
		l, err := o.env.Oracle.Predict(ctx, arr)
		arr.Release()
		if err != nil {
			return nil, err
		}
		if l.K < 1 || len(l.Values) != l.K*len(part) {
			return nil, fmt.Errorf("the oracle returned %d logits in rows of %d for %d images", len(l.Values), l.K, len(part))
		}
		out.K, out.Values = l.K, append(out.Values, l.Values...)
	}
	return out, nil
}

func (o oracle) gradient(ctx context.Context, x []float32, rows []int, labels []int32, margin bool) (*sdk.Gradients, error) {
	loss := "cross_entropy"
	if margin {
		loss = "margin"
	}
	out := &sdk.Gradients{}
	chunk := OracleChunk(o.size)
	for lo := 0; lo < len(rows); lo += chunk {
		hi := min(lo+chunk, len(rows))
		arr, err := o.rows(x, rows[lo:hi])
		if err != nil {
			return nil, err
		}
		g, err := o.env.Oracle.Gradient(ctx, arr, labels[lo:hi], loss)
		arr.Release()
		if err != nil {
			return nil, err
		}
		if len(g.Grad) != (hi-lo)*o.size || g.Logits.K < 1 || len(g.Logits.Values) != g.Logits.K*(hi-lo) {
			return nil, fmt.Errorf("the oracle returned %d gradient values and %d logits for %d images of %d values", len(g.Grad), len(g.Logits.Values), hi-lo, o.size)
		}
		out.Logits.K = g.Logits.K
		out.Logits.Values = append(out.Logits.Values, g.Logits.Values...)
		out.Loss = append(out.Loss, g.Loss...)
		out.Grad = append(out.Grad, g.Grad...)
	}
	return out, nil
}

// WithColumns returns batch with the adversarial images adv and the success, queries (and, with
// saveDelta, delta = adv − clean) columns; success is null for unlabelled rows.
func WithColumns(batch arrow.RecordBatch, clean, adv []float32, labels []int32, success []bool, queries []int32,
	shape imagemap.Shape, saveDelta bool, env *sdk.Env) (arrow.RecordBatch, error) {
	sb := array.NewBooleanBuilder(env.Mem)
	defer sb.Release()
	qb := array.NewInt32Builder(env.Mem)
	defer qb.Release()
	for i, y := range labels {
		qb.Append(queries[i])
		if y < 0 {
			sb.AppendNull()
			continue
		}
		sb.Append(success[i])
	}
	succ, qs := sb.NewArray(), qb.NewArray()
	defer succ.Release()
	defer qs.Release()
	cols := []imagemap.Column{
		{Field: arrow.Field{Name: ColSuccess, Type: arrow.FixedWidthTypes.Boolean, Nullable: true}, Array: succ},
		{Field: arrow.Field{Name: ColQueries, Type: arrow.PrimitiveTypes.Int32}, Array: qs},
	}
	if saveDelta {
		delta := make([]float32, len(adv))
		for k := range delta {
			delta[k] = adv[k] - clean[k]
		}
		d, err := arrowio.NewTensorArray(env.Mem, []int{shape.C, shape.H, shape.W}, delta)
		if err != nil {
			return nil, err
		}
		defer d.Release()
		cols = append(cols, imagemap.Column{Field: arrow.Field{Name: ColDelta, Type: d.DataType()}, Array: d})
	}
	rec, err := arrowio.SetImages(batch, adv, env.Mem)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	return imagemap.AddColumns(rec, cols...)
}
