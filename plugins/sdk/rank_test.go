package sdk

import "testing"

func TestRank(t *testing.T) {
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
		{[]float32{2, 2, 2}, 2, 2}, // a constant output ranks every label by its index
	} {
		if got := Rank(c.logits, c.label); got != c.want {
			t.Errorf("Rank(%v, %d) = %d, want %d", c.logits, c.label, got, c.want)
		}
	}
}
