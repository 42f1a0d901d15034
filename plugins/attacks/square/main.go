// Command vistudy-perturbation-square is the Square attack (L∞, gradient-free): random square
// updates kept when they lower the model's margin, queried through the model oracle's Predict.
package main

import "github.com/vistudy/vistudy/plugins/sdk"

func main() { sdk.ServePerturbation(square{}) }
