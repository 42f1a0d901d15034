package slurm

import (
	"bytes"
	"os"
	"strconv"
	"strings"

	"github.com/vistudy/vistudy/scaleout"
)

// Shard states of a status.
const (
	StateDone         = "done"          // every unit has a record
	StateRunning      = "running"       // its task runs
	StatePending      = "pending"       // its task waits in the queue
	StateFailed       = "failed"        // its task ended with units missing
	StateNotSubmitted = "not submitted" // no task was ever submitted for it
)

// ShardStatus is where one shard of a submitted study stands.
type ShardStatus struct {
	scaleout.ShardCount
	State string // one of the State constants
	Queue string // the newest task's state in the queue (RUNNING, CANCELLED, ...), "" when unknown
	Job   string // the newest task's job id (array_task)
	Log   string // the last line of the shard's log
}

// Status combines the census of a run directory with the queue, the shards' done markers and
// their logs. counts may be nil when the plan could not be read (then only markers and the queue
// decide).
func Status(rec *Record, counts []scaleout.ShardCount, queue []TaskState) []ShardStatus {
	n := max(rec.Job.Shards, 1)
	out := make([]ShardStatus, n)
	newest := map[int]string{} // shard → array job id of its newest submission
	for _, s := range rec.Submissions {
		for _, t := range s.Tasks {
			newest[t] = s.Array
		}
	}
	for i := range out {
		st := &out[i]
		st.Shard = i
		if counts != nil && i < len(counts) {
			st.ShardCount = counts[i]
		}
		if job, ok := newest[i]; ok {
			st.Job = job + "_" + strconv.Itoa(i)
			for _, q := range queue {
				if q.Job == job && q.Task == i {
					st.Queue = q.State
				}
			}
		}
		st.Log = lastLine(ShardLog(rec.Job.RunDir, i))
		_, markErr := os.Stat(DoneMarker(rec.Job.RunDir, i, n))
		complete := markErr == nil
		if counts != nil {
			complete = st.Missing() == 0
		}
		switch {
		case complete:
			st.State = StateDone
		case st.Queue == "RUNNING" || st.Queue == "COMPLETING" || st.Queue == "CONFIGURING":
			st.State = StateRunning
		case st.Queue != "" && (TaskState{State: st.Queue}).Active():
			st.State = StatePending
		case st.Job == "":
			st.State = StateNotSubmitted
		case markErr == nil:
			// The task succeeded yet the census misses units: a run of a plan this status
			// counts differently; running it again is harmless.
			st.State = StateDone
		default:
			st.State = StateFailed
		}
	}
	return out
}

// Resubmit lists the shards a resume submits again: neither done nor queued.
func Resubmit(status []ShardStatus) []int {
	var out []int
	for _, s := range status {
		if s.State == StateFailed || s.State == StateNotSubmitted {
			out = append(out, s.Shard)
		}
	}
	return out
}

// Totals sums the units of each state.
func Totals(status []ShardStatus) map[string]int {
	out := map[string]int{}
	for _, s := range status {
		out[StateDone] += s.Done
		if s.State != StateDone {
			out[s.State] += s.Missing()
		}
	}
	return out
}

// lastLine is the last non-empty line of a file, "" when it cannot be read.
func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return strings.TrimSpace(string(lines[len(lines)-1]))
}
