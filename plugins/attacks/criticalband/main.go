// Command vistudy-perturbation-criticalband is the critical-band masking perturbation plugin.
package main

import "github.com/vistudy/vistudy/plugins/sdk"

func main() { sdk.ServePerturbation(criticalband{}) }
