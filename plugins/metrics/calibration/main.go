// Command vistudy-metric-calibration is the calibration and over-confidence metric plugin.
package main

import "github.com/vistudy/vistudy/plugins/sdk"

func main() { sdk.ServeMetric[state](calibration{}) }
