package arrowio

import (
	"github.com/apache/arrow-go/v18/arrow"
)

// SchemaVersion is the version of the column conventions below; plugins check it in the handshake.
const SchemaVersion = 1

// Column names shared by every stage and plugin (docs/schema.md).
const (
	ColSampleID     = "sample_id"     // string, dataset-relative path
	ColLabel        = "label"         // int32, index in the dataset's label space (-1 unknown)
	ColLabelName    = "label_name"    // string
	ColShapeLabel   = "shape_label"   // int32, cue-conflict shape class
	ColTextureLabel = "texture_label" // int32, cue-conflict texture class
	ColImage        = "image"         // tensor [C,H,W], RGB in [0,1]
	ColPerturbation = "perturbation"  // string, perturbation name
	ColParam        = "param"         // float64, the perturbation's primary parameter
	ColModel        = "model"         // dictionary string
	ColLogits       = "logits"        // tensor [K]
	ColPred         = "pred"          // int32 arg-max
	ColConfidence   = "confidence"    // float32 max softmax probability
	ColPredName     = "pred_name"     // dictionary string, the model's class name of pred (null when unnamed)
	ColDataset      = "dataset"       // dictionary string, the study's dataset the sample came from
	ColStage        = "stage"         // dictionary string, the stage whose table holds the row
)

// Field returns the field of name in s, or false.
func Field(s *arrow.Schema, name string) (arrow.Field, bool) {
	idx := s.FieldIndices(name)
	if len(idx) == 0 {
		return arrow.Field{}, false
	}
	return s.Field(idx[0]), true
}

// ModelType is the dictionary-encoded string type of the model column.
var ModelType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
