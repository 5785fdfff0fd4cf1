package port

import (
	"time"

	"golang.org/x/sys/unix"
)

// linger sleeps d on the calling thread, holding it: the loop goroutine
// comes back on its own thread with no trip through the Go scheduler. A
// signal may cut it short, which only makes the batch smaller.
func linger(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	_ = unix.Nanosleep(&ts, nil)
}
