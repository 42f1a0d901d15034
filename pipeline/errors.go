package pipeline

import (
	"errors"
	"fmt"
	"strings"
)

// Pos is a place in a study file.
type Pos struct {
	File      string
	Line, Col int
	Override  string // set when the value came from a flag or environment variable
}

// String renders the position as file:line:col, file:line when the column is unknown (or the
// override's source).
func (p Pos) String() string {
	if p.Override != "" {
		return p.Override
	}
	if p.Line == 0 {
		return p.File
	}
	if p.Col == 0 {
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Problem is one thing wrong with a study, at a position.
type Problem struct {
	Pos Pos
	Msg string
}

// Error implements error.
func (p *Problem) Error() string { return p.Pos.String() + ": " + p.Msg }

// Problems is every problem found in a study; it is an error when non-empty.
type Problems []*Problem

// Error implements error, one problem per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// add records a problem.
func (ps *Problems) add(pos Pos, format string, args ...any) {
	*ps = append(*ps, &Problem{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// err returns the problems as an error, or nil.
func (ps Problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// AsProblems extracts the problems from err, if it holds any.
func AsProblems(err error) (Problems, bool) {
	var ps Problems
	if errors.As(err, &ps) {
		return ps, true
	}
	return nil, false
}
