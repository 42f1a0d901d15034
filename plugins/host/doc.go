// Package host is the host side of vistudy's plugins: it discovers plugin binaries, launches one
// process per plugin instance, supervises it (a crashed process is restarted and the call retried)
// and offers typed clients for the three plugin kinds.
package host
