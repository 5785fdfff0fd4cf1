package flow_test

import (
	"syscall"
	"testing"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
)

// A flow runs on its loop's locked OS thread, before and after a park, so
// the port calls it makes (io_uring submissions) come from the thread
// that owns the ring. TestConnFlowEcho drives such submissions on uring.
func TestFlowThread(t *testing.T) {
	l := startLoop(t, loop.Config{})
	tids := make(chan int, 1)
	l.Post(func() { tids <- syscall.Gettid() })
	loopTid := within(t, tids, "the loop's thread id")
	var start, resumed int
	run(t, l, func(f *flow.Flow) {
		start = syscall.Gettid()
		f.Sleep(0)
		resumed = syscall.Gettid()
	})
	if start != loopTid || resumed != loopTid {
		t.Errorf("flow on threads %d, %d (start, after a park); the loop's is %d", start, resumed, loopTid)
	}
}
