// Command vistudy-perturbation-pgd is projected gradient descent (L∞ or L2) on the model oracle's gradient.
package main

import (
	"github.com/vistudy/vistudy/plugins/attacks/gradattack"
	"github.com/vistudy/vistudy/plugins/sdk"
)

func main() { sdk.ServePerturbation(gradattack.PGD()) }
