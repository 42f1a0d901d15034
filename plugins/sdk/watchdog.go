package sdk

import (
	"os"
	"path/filepath"
	"time"
)

// EnvBinary names the environment variable through which the host tells a plugin the path of
// its binary: the host runs a verified in-memory copy, so os.Executable names no file on disk.
const EnvBinary = "VISTUDY_PLUGIN_BINARY"

// Executable is the path of the plugin's binary on disk (for files installed beside it).
func Executable() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" && filepath.IsAbs(p) {
		return p, nil
	}
	return os.Executable()
}

// watchParent exits the plugin process once its parent (the host) is gone: the parent-death
// signal the host asks for covers Linux, this covers a host that could not ask for it. A
// process whose parent is init from the start is left alone.
func watchParent(every time.Duration, exit func()) {
	ppid := os.Getppid()
	if ppid <= 1 {
		return
	}
	go func() {
		for range time.Tick(every) {
			if os.Getppid() != ppid {
				exit()
				return
			}
		}
	}()
}
