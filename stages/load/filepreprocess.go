package load

import "fmt"

// filePreprocessor is a dataset whose samples are image files that the loader preprocesses straight
// from the file (DecodeOptions.PreprocessFile), reusing the file and pixel buffers from image to image.
type filePreprocessor interface {
	preprocessFile(out []float32, s Sample, g Geometry) error
}

// preprocessFile implements filePreprocessor: the same pixels as Image followed by PreprocessInto.
func (d *fileDataset) preprocessFile(out []float32, s Sample, g Geometry) error {
	if s.Path == "" {
		return fmt.Errorf("load: sample %q of dataset %q has no file path", s.ID, d.name)
	}
	return DecodeOptions{}.PreprocessFile(out, s.Path, g)
}
