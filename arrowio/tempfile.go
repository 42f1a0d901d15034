package arrowio

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
)

// CreateTemp is os.CreateTemp with the mode os.Create gives (0666 less the umask) instead of
// 0600, so that files renamed into place keep the user's umask and a lab can share run
// directories on a cluster file system.
func CreateTemp(dir, pattern string) (*os.File, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o666 &^ umask()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

var umask = sync.OnceValue(func() os.FileMode {
	// /proc/self/status tells the umask without setting it (Linux ≥ 4.7); 022 elsewhere.
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0o022
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Umask:"); ok {
			if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
				return os.FileMode(m)
			}
		}
	}
	return 0o022
})
