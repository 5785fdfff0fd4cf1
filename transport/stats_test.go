package transport

import (
	"context"
	"testing"
	"time"

	"github.com/cport/cport/loop"
)

// A loop's counters follow its connections: accepted and dialed, bytes
// each way, the write queue back to zero once sent, and closed.
func TestLoopCountersFollowConnections(t *testing.T) {
	g := startGroup(t, 1, loop.Config{})
	l := g.Loops()[0]
	before := l.Stats()
	ln := listenEcho(t, g, "tcp", "127.0.0.1:0")
	p := &pingClient{payload: make([]byte, 1000), done: make(chan struct{}, 1)}
	tr, err := Dial(context.Background(), l, "tcp", ln.Addr().String(), p)
	if err != nil {
		t.Fatal(err)
	}
	l.Post(func() {
		p.left = 10
		p.t.Write(p.payload)
	})
	select {
	case <-p.done:
	case <-time.After(hangGuard):
		t.Fatal("the ping-pong stalled")
	}
	tr.Close()
	var s loop.Stats
	deadline := time.Now().Add(hangGuard)
	for {
		s = l.Stats()
		if s.ConnsClosed-before.ConnsClosed == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if d := s.ConnsAccepted - before.ConnsAccepted; d != 1 {
		t.Errorf("accepted %d, want 1", d)
	}
	if d := s.ConnsDialed - before.ConnsDialed; d != 1 {
		t.Errorf("dialed %d, want 1", d)
	}
	if d := s.ConnsClosed - before.ConnsClosed; d != 2 {
		t.Errorf("closed %d, want 2", d)
	}
	if s.ConnsOpen != before.ConnsOpen {
		t.Errorf("open %d, want %d again", s.ConnsOpen, before.ConnsOpen)
	}
	// 10 round trips of 1000 bytes: each side sends and receives 10,000.
	if in, out := s.BytesIn-before.BytesIn, s.BytesOut-before.BytesOut; in != 20000 || out != 20000 {
		t.Errorf("bytes in %d, out %d; want 20000 each", in, out)
	}
	if s.WriteQueued != 0 {
		t.Errorf("%d bytes counted as queued after everything was sent", s.WriteQueued)
	}
	if s.Wakeups <= before.Wakeups || s.Completions <= before.Completions {
		t.Errorf("wake-ups %d→%d, completions %d→%d: want both grown", before.Wakeups, s.Wakeups, before.Completions, s.Completions)
	}
}
