package host

// Crashed exposes crashed for the metric process's current plugin process.
func Crashed(mp *MetricProcess, err error) bool { return crashed(mp.sup.current(), err) }

// Alive exposes alive.
func Alive(pid int) (running, known bool) { return alive(pid) }

// SharedFilesUsed counts the runtime process's memory files that have held a batch.
func SharedFilesUsed(rt *Runtime) int {
	p := rt.sup.current()
	if p == nil || p.shm == nil {
		return 0
	}
	n := 0
	for _, m := range p.shm.files {
		if m.size() > 0 {
			n++
		}
	}
	return n
}
