package report

// BuiltinFigures exposes the test table of the built-in components' declarations to the external tests.
var BuiltinFigures = builtinFigures

// FigureKind reports whether kind is registered.
func FigureKind(kind string) (Builder, bool) { return lookupFigure(kind) }
