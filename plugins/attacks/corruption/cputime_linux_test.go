package main

import "golang.org/x/sys/unix"

// threadCPU is the CPU time of the calling OS thread in nanoseconds: on a shared machine other
// processes inflate wall time, so the benchmark reports this beside it.
func threadCPU() (int64, bool) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}
