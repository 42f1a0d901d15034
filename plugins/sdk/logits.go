package sdk

import (
	"fmt"
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/vistudy/vistudy/arrowio"
)

// CheckLogits accepts a row of model outputs that can be ranked and normalised: no NaN, no
// +Inf, and at least one value above -Inf (a -Inf alone is a zero probability). Every metric
// applies it to every row, labelled or not, and fails the stage on the first bad row: a model
// that outputs NaN is broken, and no number computed around it is trustworthy.
func CheckLogits(row []float32) error {
	if len(row) == 0 {
		return fmt.Errorf("the model output no logits")
	}
	finite := false
	for k, v := range row {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 1) {
			return fmt.Errorf("the model's output is not finite: logit %d is %v", k, v)
		}
		finite = finite || !math.IsInf(float64(v), -1)
	}
	if !finite {
		return fmt.Errorf("the model's output is not finite: every logit is -Inf")
	}
	return nil
}

// SampleName names row i of batch for an error: its sample_id when the batch has one, else
// its row number.
func SampleName(batch arrow.RecordBatch, i int) string {
	if ids, err := arrowio.StringColumn(batch, arrowio.ColSampleID); err == nil && i < len(ids) {
		return "sample " + strconv.Quote(ids[i])
	}
	return "sample " + strconv.Itoa(i)
}
