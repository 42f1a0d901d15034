//go:build linux

package host

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// verifiedCommand returns a command that runs exactly the bytes of path whose SHA-256 is want
// (hex). The file is copied into a sealed memory file while it is hashed, and the command
// executes that copy through /proc/self/fd: a binary swapped after the check can never run.
// The returned file must be closed once the command started.
func verifiedCommand(path, want string) (*exec.Cmd, *os.File, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer src.Close()
	name := filepath.Base(path)
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) { // kernels before 6.3 know no MFD_EXEC: every memfd may run
		fd, err = unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("copy %s into memory: %w", path, err)
	}
	mem := os.NewFile(uintptr(fd), "memfd:"+name)
	defer mem.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(mem, h), src); err != nil {
		return nil, nil, fmt.Errorf("copy %s into memory: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); !equalHex(got, want) {
		return nil, nil, &ChangedError{Path: path, Got: got, Want: want}
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS,
		unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE); err != nil {
		return nil, nil, fmt.Errorf("seal the copy of %s: %w", path, err)
	}
	// A file open for writing cannot be executed (ETXTBSY): hand the child a read-only descriptor.
	ro, err := os.Open("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return nil, nil, fmt.Errorf("reopen the copy of %s: %w", path, err)
	}
	cmd := exec.Command("/proc/self/fd/3") // ExtraFiles[0] is the child's descriptor 3
	cmd.Args[0] = path
	cmd.ExtraFiles = []*os.File{ro}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd, ro, nil
}

// alive tells whether process pid still runs (a zombie does not); known is false where the
// platform cannot tell.
func alive(pid int) (running, known bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false, true
	}
	// pid (comm) S ...: the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false, false
	}
	switch b[i+2] {
	case 'Z', 'X', 'x':
		return false, true
	}
	return true, true
}

// stopped tells whether process pid is stopped by a signal (SIGSTOP, SIGTSTP) or a tracer.
func stopped(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't')
}
