// Command vistudy-perturbation-fgsm is the fast gradient sign method on the model oracle's gradient.
package main

import (
	"github.com/vistudy/vistudy/plugins/attacks/gradattack"
	"github.com/vistudy/vistudy/plugins/sdk"
)

func main() { sdk.ServePerturbation(gradattack.FGSM()) }
