package criticality

import "github.com/vistudy/vistudy/plugins/sdk"

// Figures are the report figures of a criticality stage: criticality against depth, and the layer × model heat map.
var Figures = []sdk.Figure{{Kind: "criticality"}, {Kind: "criticality-heatmap"}}
