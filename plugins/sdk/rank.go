package sdk

// Rank is the position of class label among logits: the number of classes that score higher,
// or the same with a lower index. It agrees with the arg-max of the `pred` column (ties go to
// the lowest index), so a sample is top-k correct when Rank < k, and a constant output is not
// counted as a hit for every label.
func Rank(logits []float32, label int32) int {
	r := 0
	for j, v := range logits {
		if v > logits[label] || (v == logits[label] && j < int(label)) {
			r++
		}
	}
	return r
}
