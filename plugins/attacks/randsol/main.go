// Command vistudy-perturbation-randsol is the randomized solarization attack (RandSol).
package main

import "github.com/vistudy/vistudy/plugins/sdk"

func main() { sdk.ServePerturbation(randsol{}) }
