// Package builtin imports every built-in stage kind so that each registers itself with the
// pipeline: a new kind is one folder under stages/ plus one import line here.
package builtin

import (
	_ "github.com/vistudy/vistudy/stages/aggregate"   // aggregate
	_ "github.com/vistudy/vistudy/stages/criticality" // criticality
	_ "github.com/vistudy/vistudy/stages/filters"     // filters
	_ "github.com/vistudy/vistudy/stages/infer"       // infer
	_ "github.com/vistudy/vistudy/stages/load"        // load
	_ "github.com/vistudy/vistudy/stages/measure"     // measure
	_ "github.com/vistudy/vistudy/stages/perturb"     // perturb
)
