//go:build !linux

package host

import (
	"os"
	"os/exec"
)

// verifiedCommand hashes path and returns a command running it. Outside Linux there is no
// sealed in-memory copy to run, so a binary swapped between the check and the start can run.
func verifiedCommand(path, want string) (*exec.Cmd, *os.File, error) {
	got, err := FileSHA256(path)
	if err != nil {
		return nil, nil, err
	}
	if !equalHex(got, want) {
		return nil, nil, &ChangedError{Path: path, Got: got, Want: want}
	}
	return exec.Command(path), nil, nil
}

// alive cannot tell outside Linux.
func alive(int) (running, known bool) { return false, false }

// stopped cannot tell outside Linux.
func stopped(int) bool { return false }

// sealAndHash hashes the binary at path (there is no sealed copy to make outside Linux).
func sealAndHash(path string) (string, error) { return FileSHA256(path) }
