package filters

import "github.com/vistudy/vistudy/plugins/sdk"

// Figures are the report figures of a filters stage: the statistics against depth, and the model × model divergence.
var Figures = []sdk.Figure{{Kind: "filters"}, {Kind: "divergence"}}
