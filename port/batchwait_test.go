//go:build linux || windows

package port_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/cport/cport/port"
)

// TestBatchWaitGathers arms receives on several streams, then lets the
// data arrive one stream at a time, 5 ms apart. With a batch wait far
// longer than the whole trickle, one Wait that slept returns them all together;
// without it the first arrival would end the sleep alone.
func TestBatchWaitGathers(t *testing.T) { testBatchWaitGathers(t) }

func testBatchWaitGathers(t *testing.T) {
	const streams = 4
	p := openPort(t, port.Config{BatchWait: time.Second, BatchSize: streams})
	if p.Backend() == "iocp" {
		t.Skip("the iocp backend does not batch its waits")
	}
	keys := make([]port.Key, streams)
	peers := make([]*streamPeer, streams)
	bufs := make([][]byte, streams)
	for i := range keys {
		fd, peer := streamPair(t, p)
		keys[i], peers[i], bufs[i] = p.register(), peer, make([]byte, 16)
		p.submit(keys[i], port.Recv(fd, bufs[i]))
	}
	// A machine slower than a millisecond between opening the port and
	// its first Wait (CI under the race detector) is no measure of how
	// fast data arrives: the gate must still trust the configuration.
	time.Sleep(3 * time.Millisecond)
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for _, peer := range peers {
			time.Sleep(5 * time.Millisecond)
			peer.write([]byte("x"))
		}
	}()
	out := make([]port.Completion, 2*streams)
	n, err := p.Wait(out, hangLimit)
	if err != nil {
		t.Fatal(err)
	}
	<-wrote
	if n != streams {
		t.Fatalf("one Wait returned %d completions %v, want all %d streams' together", n, out[:n], streams)
	}
	for _, c := range out[:n] {
		if c.Res != 1 {
			t.Fatalf("completion %+v (%v), want 1 byte", c, c.Err())
		}
	}
}

// TestBatchWaitEndsWithLess: a batch that never fills ends after
// BatchWait with what came, however long the Wait itself may sleep.
func TestBatchWaitEndsWithLess(t *testing.T) {
	p := openPort(t, port.Config{BatchWait: 20 * time.Millisecond, BatchSize: 8})
	fd, peer := streamPair(t, p)
	k := p.register()
	b := make([]byte, 16)
	p.submit(k, port.Recv(fd, b))
	peer.write([]byte("only"))
	out := make([]port.Completion, 8)
	done := make(chan int, 1)
	go func() {
		// The port belongs to the test's thread; this goroutine only
		// watches for a Wait that does not come back.
		select {
		case <-done:
		case <-time.After(hangLimit):
			panic("Wait with a batch that never fills did not return")
		}
	}()
	n, err := p.Wait(out, -1)
	done <- n
	if err != nil || n != 1 || out[0].Key != k || out[0].Res != 4 {
		t.Fatalf("Wait = %d %v, %v; want the one receive of 4 bytes", n, out[:n], err)
	}
}

// TestBatchWaitConfig refuses a batch wait out of range by name.
func TestBatchWaitConfig(t *testing.T) {
	for _, cfg := range []port.Config{{BatchWait: -time.Microsecond}, {BatchWait: 2 * time.Second}, {BatchWait: time.Millisecond, BatchSize: -1}} {
		if p, err := port.Open(cfg); err == nil {
			p.Close()
			t.Errorf("Open(%+v) succeeded, want an error", cfg)
		}
	}
}

// TestBatchWaitSleepsWithoutTimeout: a Wait with no timeout sleeps until
// something happens, batch wait or not. (io_uring ends a wait that has a
// minimum wait but no timeout once the minimum passes, even with nothing
// to return: an idle loop turned every 50 µs.)
func TestBatchWaitSleepsWithoutTimeout(t *testing.T) {
	p := openPort(t, port.Config{BatchWait: 50 * time.Microsecond, BatchSize: 8})
	var woken atomic.Bool
	go func() {
		time.Sleep(20 * time.Millisecond) // long enough for a spurious return to come first
		woken.Store(true)
		p.Wake()
	}()
	out := make([]port.Completion, 8)
	n, err := p.Wait(out, -1)
	switch {
	case err != nil:
		t.Fatal(err)
	case n > 0:
		t.Fatalf("Wait returned %v with nothing submitted", out[:n])
	case !woken.Load():
		t.Fatal("a Wait without a timeout returned before anything happened")
	}
}
