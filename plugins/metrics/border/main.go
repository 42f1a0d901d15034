// Command vistudy-metric-border is where adversarial perturbations go: the mean |δ| heatmap over
// images and the ratio of a k-pixel border ring's mean to the interior's.
package main

import "github.com/vistudy/vistudy/plugins/sdk"

func main() { sdk.ServeMetric[state](border{}) }
