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
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// images holds one sealed in-memory copy per binary (path and verified digest), shared by every
// launch of that binary: its pages are shared by the processes as a file's page cache would be, and a file
// changed on disk after the check cannot change what runs.
var images = struct {
	sync.Mutex
	byKey map[string]*os.File
}{byKey: map[string]*os.File{}}

// verifiedCommand returns a command that runs exactly the bytes of path whose SHA-256 is want
// (hex). The first launch copies the file into a sealed memory file while it is hashed; every
// command executes that copy through /proc/self/fd, so a binary swapped after the check can never
// run. The returned file (nil here) would be closed once the command started.
func verifiedCommand(path, want string) (*exec.Cmd, *os.File, error) {
	img, err := sealedImage(path, strings.ToLower(want))
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command("/proc/self/fd/3") // ExtraFiles[0] is the child's descriptor 3
	cmd.Args[0] = path
	cmd.ExtraFiles = []*os.File{img}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd, nil, nil
}

// sealedImage returns the read-only sealed copy of the binary at path with digest want, making it
// (and checking the digest) the first time.
func sealedImage(path, want string) (*os.File, error) {
	key := path + "\x00" + want
	images.Lock()
	img, ok := images.byKey[key]
	images.Unlock()
	if ok {
		return img, nil
	}
	img, got, err := seal(path) // outside the lock: plugins are sealed concurrently
	if err != nil {
		return nil, err
	}
	if !equalHex(got, want) {
		img.Close()
		return nil, &ChangedError{Path: path, Got: got, Want: want}
	}
	return keepImage(key, img), nil
}

// sealAndHash returns the SHA-256 of the binary at path, making the sealed copy launches run in
// the same pass: hashing the file and copying it again at the first launch read it twice, on
// the critical path of every run's start (bench/README.md).
func sealAndHash(path string) (string, error) {
	img, sum, err := seal(path)
	if err != nil {
		return "", err
	}
	keepImage(path+"\x00"+sum, img)
	return sum, nil
}

// keepImage records img under key and returns the image kept there (an earlier one wins).
func keepImage(key string, img *os.File) *os.File {
	images.Lock()
	defer images.Unlock()
	if old, ok := images.byKey[key]; ok {
		img.Close()
		return old
	}
	images.byKey[key] = img
	return img
}

// seal copies the file at path into a sealed memory file while hashing it, and returns a
// read-only descriptor of the copy and the digest (hex).
func seal(path string) (*os.File, string, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("open %s: %w", path, err)
	}
	defer src.Close()
	name := filepath.Base(path)
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) { // kernels before 6.3 know no MFD_EXEC: every memfd may run
		fd, err = unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, "", fmt.Errorf("copy %s into memory: %w", path, err)
	}
	mem := os.NewFile(uintptr(fd), "memfd:"+name)
	defer mem.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(mem, h), src); err != nil {
		return nil, "", fmt.Errorf("copy %s into memory: %w", path, err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS,
		unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE); err != nil {
		return nil, "", fmt.Errorf("seal the copy of %s: %w", path, err)
	}
	// A file open for writing cannot be executed (ETXTBSY): children get a read-only descriptor.
	ro, err := os.Open("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return nil, "", fmt.Errorf("reopen the copy of %s: %w", path, err)
	}
	return ro, hex.EncodeToString(h.Sum(nil)), nil
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
