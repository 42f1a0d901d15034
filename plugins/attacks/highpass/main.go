// Command vistudy-perturbation-highpass is the high-pass filter of the spectral-bias analysis.
package main

import (
	"github.com/vistudy/vistudy/plugins/attacks/fourier"
	"github.com/vistudy/vistudy/plugins/sdk"
)

func main() { sdk.ServePerturbation(fourier.Perturbation{Pass: fourier.HighPass}) }
