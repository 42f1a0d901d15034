// Command vistudy-perturbation-lowpass is the low-pass filter of the spectral-bias analysis.
package main

import (
	"github.com/vistudy/vistudy/plugins/attacks/fourier"
	"github.com/vistudy/vistudy/plugins/sdk"
)

func main() { sdk.ServePerturbation(fourier.Perturbation{Pass: fourier.LowPass}) }
