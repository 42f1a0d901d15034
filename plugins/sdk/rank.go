package sdk

// Rank is the position of class label among logits: the number of classes that score higher,
// or the same with a lower index. It agrees with the arg-max of the `pred` column (ties go to
// the lowest index), so a sample is top-k correct when Rank < k, and a constant output is not
// counted as a hit for every label. A NaN ranks below every number, so a NaN at the label is
// never a hit; metrics refuse such rows first (CheckLogits).
func Rank(logits []float32, label int32) int {
	r := 0
	w := logits[label]
	for j, v := range logits {
		if ahead(v, w, j, int(label)) {
			r++
		}
	}
	return r
}

// RankAmong is Rank over the classes among only (label among them): the ImageNet-R/-A protocol
// of an arg-max over the dataset's classes.
func RankAmong(logits []float32, label int32, among []int32) int {
	r := 0
	w := logits[label]
	for _, j := range among {
		if j >= 0 && int(j) < len(logits) && ahead(logits[j], w, int(j), int(label)) {
			r++
		}
	}
	return r
}

// ahead tells whether class j scoring v ranks before the label scoring w.
func ahead(v, w float32, j, label int) bool {
	vn, wn := v != v, w != w
	switch {
	case vn && wn:
		return j < label
	case vn:
		return false
	case wn:
		return true
	}
	return v > w || (v == w && j < label)
}
