package report

// BuiltinFigures exposes the transitional table to the external tests.
var BuiltinFigures = builtinFigures

// FigureKind reports whether kind is registered.
func FigureKind(kind string) (Builder, bool) { return lookupFigure(kind) }
