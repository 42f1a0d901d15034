package load

import "fmt"

// filePreprocessor is a dataset whose samples are image files that the loader preprocesses straight
// from the file (DecodeOptions.PreprocessFile), reusing the file and pixel buffers from image to image.
type filePreprocessor interface {
	preprocessFile(out []float32, s Sample, g Geometry, decode DecodeOptions) error
}

// preprocessFile implements filePreprocessor: with exact decoding, the same pixels as Image followed by
// PreprocessInto.
func (d *fileDataset) preprocessFile(out []float32, s Sample, g Geometry, decode DecodeOptions) error {
	if s.Path == "" {
		return fmt.Errorf("load: sample %q of dataset %q has no file path", s.ID, d.name)
	}
	return decode.PreprocessFile(out, s.Path, g)
}
