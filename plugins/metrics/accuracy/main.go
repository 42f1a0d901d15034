// Command vistudy-metric-accuracy is the top-k accuracy metric plugin.
package main

import "github.com/vistudy/vistudy/plugins/sdk"

func main() { sdk.ServeMetric[state](accuracy{}) }
