// Command vistudy-perturbation-solarize is the solarization perturbation plugin.
package main

import "github.com/vistudy/vistudy/plugins/sdk"

func main() { sdk.ServePerturbation(solarize{}) }
