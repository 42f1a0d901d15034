package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/vistudy/vistudy/plugins/sdk"
)

// LibraryEnv names the environment variable that points at the ONNX Runtime shared library.
const LibraryEnv = "ONNXRUNTIME_LIB"

// libraryName is the file name of the ONNX Runtime shared library on Linux.
const libraryName = "libonnxruntime.so.1"

// libraryCandidates lists where the library is looked for, in order.
func libraryCandidates() []string {
	var out []string
	if p := os.Getenv(LibraryEnv); p != "" {
		return []string{p}
	}
	if exe, err := sdk.Executable(); err == nil { // the binary on disk, not the in-memory copy the host runs
		dir := filepath.Dir(exe)
		out = append(out,
			filepath.Join(dir, "lib", libraryName),
			filepath.Join(dir, "..", ".deps", "onnxruntime", libraryName))
	}
	return append(out, filepath.Join("/usr/local/lib", libraryName), filepath.Join("/usr/lib", libraryName))
}

var (
	envOnce sync.Once
	envErr  error
	envLib  string
)

// initEnvironment loads the ONNX Runtime library once per process.
func initEnvironment() (string, error) {
	envOnce.Do(func() {
		var tried []string
		for _, p := range libraryCandidates() {
			if _, err := os.Stat(p); err != nil {
				tried = append(tried, p)
				continue
			}
			ort.SetSharedLibraryPath(p)
			if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
				envErr = fmt.Errorf("onnxruntime: load %s: %w", p, err)
				return
			}
			envLib = p
			return
		}
		envErr = fmt.Errorf("onnxruntime: shared library not found (tried %s); run `make deps` or set %s (or runtime.library in the study) to libonnxruntime.so.1",
			strings.Join(tried, ", "), LibraryEnv)
	})
	if envErr != nil {
		return "", envErr
	}
	if envLib == "" {
		return "", errors.New("onnxruntime: environment not initialised")
	}
	return envLib, nil
}
