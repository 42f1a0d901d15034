// Command vistudy-metric-shapebias is the cue-conflict shape bias metric plugin.
package main

import "github.com/vistudy/vistudy/plugins/sdk"

func main() { sdk.ServeMetric[state](shapebias{}) }
