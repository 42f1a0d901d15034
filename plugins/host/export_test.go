package host

// Crashed exposes crashed for the metric process's current plugin process.
func Crashed(mp *MetricProcess, err error) bool { return crashed(mp.sup.current(), err) }

// Alive exposes alive.
func Alive(pid int) (running, known bool) { return alive(pid) }
