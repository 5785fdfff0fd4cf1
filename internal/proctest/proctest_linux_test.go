package proctest

import (
	"os/exec"
	"testing"
	"time"
)

// TestAliveSeesThroughExec: a shell that forks two children, each then
// execing sleep, may be counted 3, 2, 3 by Find while a child execs;
// Alive, asked about every process Find has seen, never loses one.
func TestAliveSeesThroughExec(t *testing.T) {
	dips := 0
	for try := 0; try < 20; try++ {
		mark := NewMark()
		cmd := exec.Command("sh", "-c", "exec env "+Env(mark)+" sh -c 'sleep 300 & sleep 300'")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		seen := map[int]bool{}
		most := 0
		for start := time.Now(); time.Since(start) < 200*time.Millisecond; {
			found := Find(mark)
			if len(found) < most {
				dips++
			}
			most = max(most, len(found))
			for _, pid := range found {
				seen[pid] = true
			}
			var pids []int
			for pid := range seen {
				pids = append(pids, pid)
			}
			if alive := Alive(pids); len(alive) != len(pids) {
				t.Errorf("try %d: Alive lost a process: %v of %v", try, alive, pids)
			}
		}
		Kill(mark)
		cmd.Wait()
		if err := WaitGone(mark, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if len(seen) != 3 {
			t.Errorf("try %d: saw %d processes, want the shell and its two sleeps", try, len(seen))
		}
	}
	t.Logf("Find dipped %d times in 20 starts", dips)
}
