package main

import "math"

// sum is a float64 sum with Neumaier compensation: shards merged in any grouping agree with one
// pass to about one rounding, where a plain sum drifts with the number of terms.
type sum struct {
	S float64 `json:"s"` // running sum
	C float64 `json:"c"` // the low-order part S lost
}

// add adds x.
func (k *sum) add(x float64) {
	t := k.S + x
	if math.Abs(k.S) >= math.Abs(x) {
		k.C += (k.S - t) + x
	} else {
		k.C += (x - t) + k.S
	}
	k.S = t
}

// merge adds another sum, carrying its compensation.
func (k *sum) merge(o sum) {
	k.add(o.S)
	k.C += o.C
}

// value is the compensated total.
func (k sum) value() float64 { return k.S + k.C }
