package sdk

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const watchRoleEnv = "VISTUDY_TEST_WATCH_ROLE"

// TestWatchParent: a plugin whose host vanished without a parent-death signal exits by itself.
// The test binary plays three roles: this test starts a "middle" process (the host), which
// starts a "child" (the plugin, watching its parent), prints its pid and exits.
func TestWatchParent(t *testing.T) {
	switch os.Getenv(watchRoleEnv) {
	case "child":
		watchParent(20*time.Millisecond, func() { os.Exit(0) })
		fmt.Println("watching")
		time.Sleep(30 * time.Second)
		os.Exit(1)
	case "middle":
		c := exec.Command(os.Args[0], "-test.run=^TestWatchParent$")
		c.Env = append(os.Environ(), watchRoleEnv+"=child")
		ready, err := c.StdoutPipe()
		if err == nil {
			err = c.Start()
		}
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		bufio.NewReader(ready).ReadString('\n') // the child watches this process from now on
		fmt.Println("pid", c.Process.Pid)
		os.Exit(0)
	}
	c := exec.Command(os.Args[0], "-test.run=^TestWatchParent$")
	c.Env = append(os.Environ(), watchRoleEnv+"=middle")
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	c.Wait()
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "pid ")))
	if err != nil {
		t.Fatalf("middle process said %q", line)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err != nil || strings.Contains(string(b), ") Z") {
			return
		}
	}
	t.Fatalf("child %d still runs 5 s after its parent exited", pid)
}
