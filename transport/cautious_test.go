package transport

import (
	"bytes"
	"testing"
	"time"

	"github.com/cport/cport/loop"
)

// A connection whose protocol has paused reading once reads one provided
// buffer per receive from then on: a protocol that cannot keep up (a
// server whose peer pipelines and never reads) holds at most a buffer
// beyond what it took when it pauses again, not a whole receive burst.
func TestPausedConnectionReadsCautiously(t *testing.T) {
	g := startGroup(t, 1, loop.Config{})
	ln, recs := acceptOne(t, g, func(r *recorder) {
		r.onData = func(r *recorder, _ []byte) { r.t.PauseReading() }
	})
	peer := dialNet(t, "tcp", ln.Addr().String())
	defer peer.Close()
	r := <-recs
	tr := r.waitMade(t)
	c := tr.(*conn)
	bufSize := c.l.Port().BufferSize()
	if bufSize == 0 {
		t.Skip("no provided buffers on this backend")
	}
	go peer.Write(bytes.Repeat([]byte("p"), 4<<20)) // more than the socket holds: it stays full

	// pending is what the paused connection holds, once its receive is
	// over (cancelled or ended at its limit) so nothing more can come.
	pending := func() (int, bool) {
		type state struct {
			held  int
			armed bool
		}
		ch := make(chan state, 1)
		c.l.Post(func() {
			s := state{armed: c.has(stRecvArmed)}
			if c.x != nil {
				s.held = len(c.x.held) - c.x.heldOff
			}
			ch <- s
		})
		s := <-ch
		return s.held, !s.armed
	}
	drained := false
	deadline := time.Now().Add(hangGuard)
	for cycle := 0; cycle < 40; cycle++ {
		var held int
		for {
			h, settled := pending()
			if settled {
				held = h
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the paused connection's receive never ended")
			}
			time.Sleep(time.Millisecond)
		}
		if drained && held >= bufSize {
			t.Fatalf("cycle %d: a connection that paused before holds %d bytes after pausing again, want less than one buffer (%d)", cycle, held, bufSize)
		}
		if held == 0 {
			drained = true // what the first burst left is delivered
		}
		tr.ResumeReading()
	}
	if !drained {
		t.Fatal("the held data was never all delivered")
	}
}
