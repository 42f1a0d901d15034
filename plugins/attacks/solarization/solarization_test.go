package solarization

import "testing"

func TestApplyKnownAnswers(t *testing.T) {
	// Hand-made pixels; want computed by hand from the definition.
	src := []float32{0, 0.25, 0.5, 0.75, 1}
	for _, tc := range []struct {
		name string
		t    float32
		want []float32
	}{
		{"t=0 inverts everything", 0, []float32{1, 0.75, 0.5, 0.25, 0}},
		{"t=1 keeps everything but x==1", 1, []float32{0, 0.25, 0.5, 0.75, 0}},
		{"x==t is inverted", 0.5, []float32{0, 0.25, 0.5, 0.25, 0}},
		{"x==t is inverted (0.25)", 0.25, []float32{0, 0.75, 0.5, 0.25, 0}},
		{"between pixels", 0.6, []float32{0, 0.25, 0.5, 0.25, 0}},
		{"just above a pixel keeps it", 0.2500001, []float32{0, 0.25, 0.5, 0.25, 0}},
	} {
		got := make([]float32, len(src))
		Apply(got, src, tc.t)
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: solarize(%v, %v) = %v, want %v", tc.name, src[i], tc.t, got[i], tc.want[i])
			}
		}
	}
}

func TestApplyInPlace(t *testing.T) {
	x := []float32{0.1, 0.9}
	Apply(x, x, 0.5)
	if x[0] != 0.1 || x[1] != 1-float32(0.9) {
		t.Errorf("in-place solarize gave %v", x)
	}
}
