// Package sdk is what a vistudy plugin is written with: implement Metric, Perturbation or a
// runtime server and hand it to ServeMetric, ServePerturbation or ServeRuntime from main.
// See docs/plugins.md for a walk-through.
package sdk
