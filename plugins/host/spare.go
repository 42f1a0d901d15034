package host

import (
	"os"
	"slices"
	"sync"
	"time"
)

// spares keeps the process a plugin's Info was read from, for the first launch of that plugin
// soon after: a run reads every plugin's Info while it validates the study and then starts the
// same plugins, and a launch (exec, Go start-up, handshake) is on the critical path of both.
var spares = struct {
	sync.Mutex
	byEntry map[*Entry]spare
}{byEntry: map[*Entry]spare{}}

// spare is a described plugin process and the environment it was launched in.
type spare struct {
	p   *process
	env []string
}

// spareFor is how long a spare waits to be used before it is killed.
const spareFor = 5 * time.Second

// keepSpare keeps p, just described, for the next launch of e.
func keepSpare(e *Entry, p *process) {
	spares.Lock()
	defer spares.Unlock()
	if old, ok := spares.byEntry[e]; ok {
		old.p.kill()
	}
	spares.byEntry[e] = spare{p: p, env: os.Environ()}
	time.AfterFunc(spareFor, func() {
		spares.Lock()
		s, ok := spares.byEntry[e]
		if ok && s.p == p {
			delete(spares.byEntry, e)
		}
		spares.Unlock()
		if ok && s.p == p {
			p.kill()
		}
	})
}

// takeSpare returns the spare process of e, or nil when there is none or the environment changed
// since it was launched (a plugin must see what a fresh launch would: a study's runtime.library
// is set in the environment after validation, say).
func takeSpare(e *Entry) *process {
	spares.Lock()
	s, ok := spares.byEntry[e]
	delete(spares.byEntry, e)
	spares.Unlock()
	if !ok {
		return nil
	}
	if !slices.Equal(s.env, os.Environ()) || s.p.gone() {
		s.p.kill()
		return nil
	}
	return s.p
}
