package pipeline

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// batchesInFlight is how many image batches of one geometry a run holds at once, at least: the
// decoded batch, one in each of a couple of stream buffers, and one in a plugin call.
const batchesInFlight = 4

// memAvailable is the memory the kernel says can be had without swapping (0 when unknown).
func memAvailable() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// checkBatchMemory estimates the memory the batches of each model's geometry need before anything
// is allocated: a typo like batch_size: 100000 is a clear problem, not Go's fatal out-of-memory.
func (v *validator) checkBatchMemory() {
	avail := memAvailable()
	if avail == 0 {
		return
	}
	bs := uint64(max(v.s.Execution.BatchSize, 1))
	for _, m := range v.s.Models {
		h, w := uint64(max(m.Input.Height, 0)), uint64(max(m.Input.Width, 0))
		batch := bs * 3 * h * w * 4
		if need := batch * batchesInFlight; need > avail {
			v.add(orPos(v.s.Execution.pos["batch_size"], v.s.KeyPos(keyExecution)),
				"execution.batch_size %d: a batch of %d images of 3×%d×%d float32 for model %q is %s, and a run holds at least %d at once (%s), more than the %s this machine has available: lower execution.batch_size",
				bs, bs, h, w, m.Name, gib(batch), batchesInFlight, gib(need), gib(avail))
			return
		}
	}
}

func gib(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }
