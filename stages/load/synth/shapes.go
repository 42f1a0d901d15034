package synth

import "math"

// shapeFunc reports whether a point of the shape's local frame (about [-1, 1]²) is inside.
type shapeFunc func(x, y float64) bool

// unitArea is the area every silhouette is scaled to in its local frame, so that area is no cue.
const unitArea = 2.2

func circle(x, y float64) bool { return x*x+y*y <= 1 }

func square(x, y float64) bool { return math.Abs(x) <= 1 && math.Abs(y) <= 1 }

func ringShape(x, y float64) bool {
	r2 := x*x + y*y
	return r2 <= 1 && r2 >= 0.55*0.55
}

func cross(x, y float64) bool {
	ax, ay := math.Abs(x), math.Abs(y)
	return (ax <= 0.3 && ay <= 1) || (ay <= 0.3 && ax <= 1)
}

func heart(x, y float64) bool {
	// The classic implicit heart curve, its point downward along -y.
	x, y = x*1.15, y*1.15+0.15
	a := x*x + y*y - 1
	return a*a*a-x*x*y*y*y <= 0
}

func diamond(x, y float64) bool { return math.Abs(x)/0.6+math.Abs(y) <= 1 }

func crescent(x, y float64) bool {
	dx := x - 0.45
	return x*x+y*y <= 1 && dx*dx+y*y > 0.8*0.8
}

func tee(x, y float64) bool {
	ax := math.Abs(x)
	return (y >= 0.45 && y <= 1 && ax <= 1) || (ax <= 0.28 && y >= -1 && y < 0.45)
}

func hourglass(x, y float64) bool {
	ay := math.Abs(y)
	return ay <= 1 && math.Abs(x) <= 0.12+0.75*ay
}

// polygon returns the even-odd inside test of a closed polygon given as x0, y0, x1, y1, ...
func polygon(xy ...float64) shapeFunc {
	n := len(xy) / 2
	return func(x, y float64) bool {
		in := false
		for i, j := 0, n-1; i < n; j, i = i, i+1 {
			xi, yi, xj, yj := xy[2*i], xy[2*i+1], xy[2*j], xy[2*j+1]
			if (yi > y) != (yj > y) && x < (xj-xi)*(y-yi)/(yj-yi)+xi {
				in = !in
			}
		}
		return in
	}
}

// regularStar returns a star polygon with points outer vertices alternating with inner ones.
func regularStar(points int, outer, inner float64) shapeFunc {
	var xy []float64
	for i := 0; i < 2*points; i++ {
		r := outer
		if i%2 == 1 {
			r = inner
		}
		a := math.Pi/2 + float64(i)*math.Pi/float64(points)
		xy = append(xy, r*math.Cos(a), r*math.Sin(a))
	}
	return polygon(xy...)
}

var (
	triangle = polygon(0, 1, -0.866, -0.5, 0.866, -0.5)
	star     = regularStar(5, 1, 0.42)
	arrow    = polygon(-1, -0.2, 0.15, -0.2, 0.15, -0.6, 1, 0, 0.15, 0.6, 0.15, 0.2, -1, 0.2)
)

// forInside calls visit for every point of a regular n×n grid over [-2, 2]² that lies inside f.
func forInside(f shapeFunc, n int, visit func(x, y float64)) {
	for i := 0; i < n; i++ {
		y := -2 + 4*(float64(i)+0.5)/float64(n)
		for j := 0; j < n; j++ {
			if x := -2 + 4*(float64(j)+0.5)/float64(n); f(x, y) {
				visit(x, y)
			}
		}
	}
}

// extent measures the largest distance from the origin of an inside point of f.
func extent(f shapeFunc, n int) float64 {
	e := 0.0
	forInside(f, n, func(x, y float64) { e = max(e, math.Hypot(x, y)) })
	return e
}

// normalised returns f centred on its centre of mass and scaled to unitArea.
func normalised(f shapeFunc) shapeFunc {
	const n = 400
	in, cx, cy := 0, 0.0, 0.0
	forInside(f, n, func(x, y float64) { in, cx, cy = in+1, cx+x, cy+y })
	area := 16 * float64(in) / float64(n*n)
	k := math.Sqrt(area / unitArea)
	cx, cy = cx/float64(in), cy/float64(in)
	return func(x, y float64) bool { return f(x*k+cx, y*k+cy) }
}
