package sdk

import (
	"math"
	"strings"
	"testing"
)

func TestRank(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, c := range []struct {
		logits []float32
		label  int32
		want   int
	}{
		{[]float32{0, 1, 5, 2}, 2, 0},
		{[]float32{3, 4, 0, 1}, 0, 1},
		{[]float32{9, 0, 8, 7}, 1, 3},
		{[]float32{1, 1, 0, 1}, 3, 2}, // ties go to the lower index, as the arg-max does
		{[]float32{1, 1, 0, 1}, 0, 0},
		{[]float32{2, 2, 2}, 2, 2},       // a constant output ranks every label by its index
		{[]float32{0, nan, 1}, 1, 2},     // a NaN at the label is last, never a hit
		{[]float32{nan, nan, nan}, 2, 2}, // all NaN: by index, like a constant
		{[]float32{nan, 0, 1}, 1, 1},     // a NaN elsewhere never ranks ahead
		{[]float32{inf, 0, inf}, 2, 1},
	} {
		if got := Rank(c.logits, c.label); got != c.want {
			t.Errorf("Rank(%v, %d) = %d, want %d", c.logits, c.label, got, c.want)
		}
	}
}

func TestCheckLogits(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, c := range []struct {
		row  []float32
		want string // "" when accepted
	}{
		{[]float32{0, 1, -2}, ""},
		{[]float32{float32(math.Inf(-1)), 0}, ""}, // a zero probability is a valid output
		{[]float32{0, nan}, "logit 1 is NaN"},
		{[]float32{inf, 0}, "logit 0 is +Inf"},
		{[]float32{float32(math.Inf(-1)), float32(math.Inf(-1))}, "every logit is -Inf"},
		{nil, "no logits"},
	} {
		err := CheckLogits(c.row)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("CheckLogits(%v) = %v, want %q", c.row, err, c.want)
		}
	}
}
