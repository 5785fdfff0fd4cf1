package transport

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/cport/cport/loop"
)

// cappedRecorder asks for small receives as soon as it has its transport.
type cappedRecorder struct {
	*recorder
	size   int
	oversz int // deliveries larger than size (loop only)
}

func (c *cappedRecorder) ConnectionMade(t Transport) {
	SetReceiveSize(t, c.size)
	c.recorder.ConnectionMade(t)
}

func (c *cappedRecorder) DataReceived(data []byte) {
	if len(data) > c.size {
		c.oversz++
	}
	c.recorder.DataReceived(data)
}

// dialCapped starts a one-loop server whose connections ask for receives
// of size bytes and call onData (if set) with each delivery, and dials
// it; the server's recorder comes on the channel once it has the
// connection.
func dialCapped(t *testing.T, size int, onData func(*recorder, []byte)) (net.Conn, <-chan *cappedRecorder) {
	t.Helper()
	g := startGroup(t, 1, loop.Config{})
	recs := make(chan *cappedRecorder, 1)
	ln, err := Listen(g, "tcp", "127.0.0.1:0", func() Protocol {
		r := &cappedRecorder{recorder: newRecorder(), size: size}
		r.onData = onData
		recs <- r
		return r
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c := dialNet(t, "tcp", ln.Addr().String())
	t.Cleanup(func() { c.Close() })
	return c, recs
}

// With a receive size set, no delivery is larger than it, however much
// the peer sends at once, and every byte arrives in order. (Held data,
// which a paused connection delivers in larger pieces, is not at issue:
// this protocol never pauses.)
func TestSetReceiveSizeCapsDeliveries(t *testing.T) {
	const size = 512
	c, recs := dialCapped(t, size, nil)
	src := bytes.Repeat([]byte("0123456789abcdef"), 16<<10) // 256 KiB
	if _, err := c.Write(src); err != nil {
		t.Fatal(err)
	}
	r := <-recs
	deadline := time.Now().Add(hangGuard)
	for len(r.bytes()) < len(src) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !bytes.Equal(r.bytes(), src) {
		t.Fatalf("received %d bytes, want the %d sent, in order", len(r.bytes()), len(src))
	}
	over := make(chan int, 1)
	r.t.Loop().Post(func() { over <- r.oversz })
	if n := <-over; n > 0 {
		t.Fatalf("%d deliveries were larger than the receive size %d", n, size)
	}
}

// A protocol that closes (or aborts) its transport while it handles the
// last completion of a receive (here: the receive's byte limit reached)
// still hears ConnectionLost: the close cancels a receive that has
// already ended, so no further completion comes to finish the close.
// With a receive size of 4, every 4-byte message is the last of its
// receive.
func TestCloseInLastCompletionOfReceive(t *testing.T) {
	for name, end := range map[string]func(Transport){
		"Close": func(t Transport) { t.Close() },
		"Abort": func(t Transport) { t.Abort() },
	} {
		t.Run(name, func(t *testing.T) {
			c, recs := dialCapped(t, 4, func(r *recorder, _ []byte) { end(r.t) })
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			r := <-recs
			select {
			case <-r.lost:
			case <-time.After(hangGuard):
				t.Fatalf("a transport ended by %s while handling its receive's last completion never finished: its fd stays open and ConnectionLost never comes", name)
			}
		})
	}
}
