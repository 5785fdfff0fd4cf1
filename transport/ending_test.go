package transport

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/cport/cport/internal/streamtest"
	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
)

// The end-of-connection matrix: every way a stream connection ends, with
// 0 B, 1 MiB and 64 MiB queued at that moment. Every byte is accounted
// for: the peer receives all of it followed by a clean end of stream, or
// it sees a reset and the protocol hears of the loss as an error. A clean
// end of stream after a truncation fails the test.

var endingQueues = []int{0, 1 << 20, 64 << 20}

// pattern is n bytes that catch a lost, repeated or reordered piece.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// ender is a server protocol that queues a pattern and then ends the
// connection as the case says.
type ender struct {
	BaseProtocol
	t        Transport
	queue    int
	made     func(e *ender)
	onEOF    func(e *ender) bool
	received int
	lost     chan error
}

func newEnder(queue int) *ender { return &ender{queue: queue, lost: make(chan error, 1)} }

func (e *ender) ConnectionMade(t Transport) {
	e.t = t
	if e.made != nil {
		e.made(e)
	}
}

func (e *ender) DataReceived(data []byte) { e.received += len(data) }

func (e *ender) EOFReceived() bool {
	if e.onEOF != nil {
		return e.onEOF(e)
	}
	return false
}

func (e *ender) ConnectionLost(err error) { e.lost <- err }

// queuePattern writes the whole pattern in one Write: the queue limit
// applies to what is already queued, so one large write is taken whole.
func (e *ender) queuePattern() {
	if e.queue > 0 {
		if err := e.t.Write(pattern(e.queue)); err != nil {
			panic(err)
		}
	}
}

// serveEnder listens with one ender per connection and returns its
// address and the channel of accepted enders.
func serveEnder(t *testing.T, g *loop.Group, setup func(*ender)) (string, chan *ender) {
	t.Helper()
	enders := make(chan *ender, 4)
	ln, err := Listen(g, "tcp", "127.0.0.1:0", func() Protocol {
		e := newEnder(0)
		setup(e)
		enders <- e
		return e
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String(), enders
}

// readAll reads c to its end and reports the bytes and how the stream
// ended (nil for a clean end).
func readAll(c net.Conn) ([]byte, error) { return streamtest.ReadToEnd(c, hangGuard) }

// wantWhole fails unless got is the whole pattern of n bytes and the
// stream ended cleanly.
func wantWhole(t *testing.T, got []byte, err error, n int) {
	t.Helper()
	if err != nil {
		t.Fatalf("the peer read %d of %d bytes, then %v", len(got), n, err)
	}
	if len(got) != n {
		t.Fatalf("the peer read %d of %d bytes and a clean end of stream: a silent truncation", len(got), n)
	}
	if !bytes.Equal(got, pattern(n)) {
		t.Fatal("the peer read the right number of bytes but not the right bytes")
	}
}

func waitLostErr(t *testing.T, e *ender) error {
	t.Helper()
	select {
	case err := <-e.lost:
		return err
	case <-time.After(hangGuard):
		t.Fatal("ConnectionLost never came")
		return nil
	}
}

func forEachQueue(t *testing.T, run func(t *testing.T, n int)) {
	for _, n := range endingQueues {
		t.Run(fmt.Sprintf("queue=%d", n), func(t *testing.T) { run(t, n) })
	}
}

// Close sends everything queued, then a clean end of stream.
func TestEndingClose(t *testing.T) {
	g := startGroup(t, 1, loop.Config{})
	forEachQueue(t, func(t *testing.T, n int) {
		addr, enders := serveEnder(t, g, func(e *ender) {
			e.queue = n
			e.made = func(e *ender) { e.queuePattern(); e.t.Close() }
		})
		c := dialNet(t, "tcp", addr)
		defer c.Close()
		got, err := readAll(c)
		wantWhole(t, got, err, n)
		if err := waitLostErr(t, <-enders); err != nil {
			t.Errorf("ConnectionLost(%v) after a Close that sent everything", err)
		}
	})
}

// WriteEOF sends everything queued, then the FIN; the connection still
// reads, and Close ends it.
func TestEndingWriteEOFThenClose(t *testing.T) {
	g := startGroup(t, 1, loop.Config{})
	forEachQueue(t, func(t *testing.T, n int) {
		addr, enders := serveEnder(t, g, func(e *ender) {
			e.queue = n
			e.made = func(e *ender) { e.queuePattern(); e.t.WriteEOF() }
			e.onEOF = func(e *ender) bool { e.t.Close(); return true }
		})
		c := dialNet(t, "tcp", addr).(*net.TCPConn)
		defer c.Close()
		got, err := readAll(c)
		wantWhole(t, got, err, n)
		// The server still reads after its WriteEOF.
		c.Write([]byte("after"))
		c.CloseWrite()
		e := <-enders
		if err := waitLostErr(t, e); err != nil {
			t.Errorf("ConnectionLost(%v)", err)
		}
		if e.received != len("after") {
			t.Errorf("the server read %d bytes after its WriteEOF, want %d", e.received, len("after"))
		}
	})
}

// The peer writes without reading and half-closes: an echo server that
// closes on EOF (EOFReceived false) sends every byte back before its FIN,
// whatever it had queued. This is the case that lost data on io_uring: a
// send the kernel gave up with EAGAIN ended the connection, quietly.
func TestEndingPeerHalfCloseEcho(t *testing.T) {
	g := startGroup(t, 1, loop.Config{})
	forEachQueue(t, func(t *testing.T, n int) {
		addr := listenEchoLimits(t, g, n)
		c := dialNet(t, "tcp", addr).(*net.TCPConn)
		defer c.Close()
		sent := writeUntilBlocked(t, c, n)
		c.CloseWrite()
		got, err := readAll(c)
		wantWhole(t, got, err, sent)
	})
}

// The same with EOFReceived true: the server keeps its side open, writes
// its own tail after the peer's EOF, and closes; all of it arrives.
func TestEndingPeerHalfCloseKeepOpen(t *testing.T) {
	g := startGroup(t, 1, loop.Config{})
	forEachQueue(t, func(t *testing.T, n int) {
		addr, enders := serveEnder(t, g, func(e *ender) {
			e.queue = n
			e.onEOF = func(e *ender) bool {
				e.queuePattern()
				e.t.Close()
				return true
			}
		})
		c := dialNet(t, "tcp", addr).(*net.TCPConn)
		defer c.Close()
		c.Write([]byte("request"))
		c.CloseWrite()
		got, err := readAll(c)
		wantWhole(t, got, err, n)
		e := <-enders
		if err := waitLostErr(t, e); err != nil {
			t.Errorf("ConnectionLost(%v)", err)
		}
		if e.received != len("request") {
			t.Errorf("the server read %d bytes, want %d", e.received, len("request"))
		}
	})
}

// listenEchoLimits serves echo with a high watermark of n (the default
// when n is 0), so the echo's queue can reach n before reading pauses.
func listenEchoLimits(t *testing.T, g *loop.Group, n int) string {
	t.Helper()
	ln, err := Listen(g, "tcp", "127.0.0.1:0", func() Protocol { return &limitedEcho{high: n} })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

type limitedEcho struct {
	echo
	high int
}

func (e *limitedEcho) ConnectionMade(t Transport) {
	e.t = t
	if e.high > 0 {
		t.SetWriteBufferLimits(e.high, e.high/4)
		t.SetWriteQueueLimit(2 * e.high)
	}
}

// writeUntilBlocked writes the pattern without reading until the peer
// stops taking it (a write that times out) or 2n+1 MiB went, and returns
// how many bytes left. Every chunk is whole cycles of the pattern and the
// writes stop at the first short one, so the stream is pattern(sent).
func writeUntilBlocked(t *testing.T, c net.Conn, n int) int {
	t.Helper()
	chunk := pattern(251 * 256)
	sent, limit := 0, 2*n+1<<20
	for sent < limit {
		c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		k, err := c.Write(chunk)
		sent += k
		if err != nil {
			if !isTimeout(err) {
				t.Fatalf("write: %v", err)
			}
			break
		}
	}
	c.SetWriteDeadline(time.Time{})
	return sent
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// queueWatcher is echo that records the largest write queue it saw.
type queueWatcher struct {
	echo
	most chan int
	max  int
}

func (q *queueWatcher) DataReceived(data []byte) {
	q.t.Write(data)
	q.max = max(q.max, q.t.WriteBufferSize())
}

func (q *queueWatcher) ConnectionLost(error) { q.most <- q.max }

// Slow readers: clients that write without reading, then half-close and
// read everything back. The echo ignores PauseWriting, as the simplest
// protocol does; the transport's own read pause keeps each queue near the
// high watermark instead of growing with what the client sends, and every
// byte comes back.
func TestSlowReadersBoundServerMemory(t *testing.T) {
	const clients = 8
	g := startGroup(t, 1, loop.Config{})
	most := make(chan int, clients)
	ln, err := Listen(g, "tcp", "127.0.0.1:0", func() Protocol { return &queueWatcher{most: most} })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errs := make(chan error, clients)
	for range clients {
		go func() {
			c, err := net.DialTimeout("tcp", ln.Addr().String(), hangGuard)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			sent := writeUntilBlocked(t, c, 8<<20)
			c.(*net.TCPConn).CloseWrite()
			got, err := readAll(c)
			switch {
			case err != nil:
				errs <- fmt.Errorf("read %d of %d bytes, then %v", len(got), sent, err)
			case !bytes.Equal(got, pattern(sent)):
				errs <- fmt.Errorf("read %d bytes back of %d sent, or not the same bytes", len(got), sent)
			default:
				errs <- nil
			}
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	// The queue passes the high watermark by what was already read when
	// reading paused: at most one receive burst, and one write.
	bound := defaultHighWater + recvBurst + 64<<10
	for range clients {
		if m := <-most; m > bound {
			t.Errorf("a slow reader's echo queued %d bytes; the bound is %d", m, bound)
		}
	}
}

// At the write-queue limit a write fails with ErrWriteQueueFull and queues
// nothing; everything queued before it still arrives, in order, and Close
// still ends the stream cleanly.
//
// The peer reads only once the writer has hit the limit. Until then the
// socket's buffers take what they hold (at once, on a backend that sends
// at once), and the queue the rest.
func TestWriteQueueLimit(t *testing.T) {
	const limit, piece = 1 << 20, 96 << 10
	g := startGroup(t, 1, loop.Config{})
	src := pattern(64 << 20)
	type outcome struct {
		taken, queued int // bytes Write took; the queue at the refusal
		err           error
	}
	accepted := make(chan outcome, 1)
	addr, _ := serveEnder(t, g, func(e *ender) {
		e.made = func(e *ender) {
			e.t.SetWriteQueueLimit(limit)
			var o outcome
			for o.err == nil && o.taken+piece <= len(src) {
				if o.err = e.t.Write(src[o.taken : o.taken+piece]); o.err == nil {
					o.taken += piece
				}
			}
			o.queued = e.t.WriteBufferSize()
			e.t.Close()
			accepted <- o
		}
	})
	c := dialNet(t, "tcp", addr)
	defer c.Close()
	var o outcome
	select {
	case o = <-accepted:
	case <-time.After(hangGuard):
		t.Fatal("the writer never hit the write-queue limit")
	}
	if !errors.Is(o.err, ErrWriteQueueFull) {
		t.Fatalf("after %d bytes, Write = %v; want ErrWriteQueueFull", o.taken, o.err)
	}
	if o.queued < limit || o.queued >= limit+piece {
		t.Errorf("%d bytes queued at ErrWriteQueueFull, want the limit %d up to one write more", o.queued, limit)
	}
	got, err := readAll(c)
	wantWhole(t, got, err, o.taken)
}

// Listener.Close works from anywhere: a callback of one of its own loops
// (which must not wait for itself), a callback of another loop, and a
// goroutine. Afterwards nothing more is accepted.
func TestListenerCloseFromAnywhere(t *testing.T) {
	for _, where := range []string{"own loop", "other loop", "goroutine"} {
		t.Run(where, func(t *testing.T) {
			g := startGroup(t, 2, loop.Config{})
			ln := listenEcho(t, g, "tcp", "127.0.0.1:0")
			done := make(chan error, 1)
			closeIt := func() { done <- ln.Close() }
			switch where {
			case "own loop":
				g.Loops()[0].Post(closeIt)
			case "other loop":
				other := startGroup(t, 1, loop.Config{})
				other.Loops()[0].Post(closeIt)
			default:
				go closeIt()
			}
			if err := waitErr(t, done); err != nil {
				t.Fatalf("Close: %v", err)
			}
			// Both loops still turn, and the port is no longer served.
			for _, l := range g.Loops() {
				ran := make(chan error, 1)
				l.Post(func() { ran <- nil })
				waitErr(t, ran)
			}
			deadline := time.Now().Add(hangGuard)
			for {
				c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
				if err != nil {
					break
				}
				c.Close()
				if time.Now().After(deadline) {
					t.Fatal("the closed listener still accepts")
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

func waitErr(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(hangGuard):
		t.Fatal("no answer: a loop is blocked")
		return nil
	}
}

// Errors follow Go's conventions: whatever says "closed" is net.ErrClosed
// to errors.Is, and a timeout is a net.Error timeout and
// os.ErrDeadlineExceeded.
func TestErrorsFollowGoConventions(t *testing.T) {
	for _, err := range []error{ErrClosed, loop.ErrClosed, port.ErrClosed} {
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("errors.Is(%v, net.ErrClosed) is false", err)
		}
	}
	op := opError("read", "tcp", nil, nil, ErrIdleTimeout)
	var ne net.Error
	if !errors.As(op, &ne) || !ne.Timeout() {
		t.Errorf("%v is not a net.Error timeout", op)
	}
	if !errors.Is(op, os.ErrDeadlineExceeded) {
		t.Errorf("errors.Is(%v, os.ErrDeadlineExceeded) is false", op)
	}
}

// addrRecorder records the peer's address as ConnectionLost sees it.
type addrRecorder struct {
	BaseProtocol
	t    Transport
	made chan Transport
	seen chan net.Addr
}

func (a *addrRecorder) ConnectionMade(t Transport) { a.t = t; a.made <- t }
func (a *addrRecorder) ConnectionLost(error)       { a.seen <- a.t.RemoteAddr() }

// listenRecordingAddrs listens on a one-loop group with addrRecorder
// protocols, which report on made and seen; the listener closes with the
// test.
func listenRecordingAddrs(t *testing.T) (*Listener, chan Transport, chan net.Addr) {
	t.Helper()
	g := startGroup(t, 1, loop.Config{})
	seen, made := make(chan net.Addr, 2), make(chan Transport, 2)
	ln, err := Listen(g, "tcp", "127.0.0.1:0", func() Protocol { return &addrRecorder{made: made, seen: seen} })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, made, seen
}

// A connection's addresses stay right to the end: inside ConnectionLost,
// and after its descriptor's number went to a newer connection.
func TestAddressesOutliveTheSocket(t *testing.T) {
	ln, made, seen := listenRecordingAddrs(t)
	first := dialNet(t, "tcp", ln.Addr().String())
	want := first.LocalAddr().String()
	tr := <-made
	first.Close()
	got := <-seen
	if got == nil || got.String() != want {
		t.Fatalf("RemoteAddr in ConnectionLost = %v, want %s", got, want)
	}
	// A new connection likely takes the closed one's descriptor number;
	// either way the first's address must not change.
	second := dialNet(t, "tcp", ln.Addr().String())
	defer second.Close()
	<-made
	if got2 := tr.RemoteAddr(); got2 == nil || got2.String() != want {
		t.Fatalf("after a new connection, the first's RemoteAddr = %v, want %s", got2, want)
	}
}

// A peer that resets the connection, whose address no one had asked, is
// still named in ConnectionLost: the socket forgets its peer for
// getpeername once reset (a log of who went away would say nil).
func TestAddressOfPeerThatReset(t *testing.T) {
	ln, made, seen := listenRecordingAddrs(t)
	peer := dialNet(t, "tcp", ln.Addr().String())
	want := peer.LocalAddr().String()
	<-made
	peer.(*net.TCPConn).SetLinger(0)
	peer.Close() // a reset
	if got := <-seen; got == nil || got.String() != want {
		t.Fatalf("RemoteAddr in ConnectionLost after the peer's reset = %v, want %s", got, want)
	}
}

// A Close from another goroutine does not lose the addresses no one had
// asked: the loop closes the socket later, and between the two a caller
// that asks must not find the connection already too closed to answer.
func TestAddressesAfterCloseFromAnotherGoroutine(t *testing.T) {
	ln, made, seen := listenRecordingAddrs(t)
	peer := dialNet(t, "tcp", ln.Addr().String())
	defer peer.Close()
	want := peer.LocalAddr().String()
	tr := <-made
	// Hold the loop, so that the close it is posted waits.
	held, release := make(chan struct{}), make(chan struct{})
	if err := tr.Loop().Post(func() { close(held); <-release }); err != nil {
		t.Fatal(err)
	}
	<-held
	tr.Close()
	got := tr.RemoteAddr()
	close(release)
	if got == nil || got.String() != want {
		t.Errorf("RemoteAddr after a Close from another goroutine = %v, want %s", got, want)
	}
	if got := <-seen; got == nil || got.String() != want {
		t.Errorf("RemoteAddr in ConnectionLost = %v, want %s", got, want)
	}
}

// panicky panics in every DataReceived.
type panicky struct{ BaseProtocol }

func (panicky) DataReceived([]byte) { panic("boom") }

// A protocol that panics in DataReceived does not keep the loop's provided
// buffer: far more panics than the pool has buffers, and the loop still
// reads for everyone.
func TestPanickingProtocolReturnsBuffers(t *testing.T) {
	const buffers = 8
	panics := make(chan struct{}, 1024)
	g := startGroup(t, 1, loop.Config{Port: portConfig(buffers, 4096), OnPanic: func(any, []byte) { panics <- struct{}{} }})
	bad, err := Listen(g, "tcp", "127.0.0.1:0", func() Protocol { return panicky{} })
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	for range 4 * buffers {
		c := dialNet(t, "tcp", bad.Addr().String())
		c.Write([]byte("x"))
		select {
		case <-panics:
		case <-time.After(hangGuard):
			t.Fatal("DataReceived never ran: the pool has run dry")
		}
		c.Close()
	}
	good := listenEcho(t, g, "tcp", "127.0.0.1:0")
	c := dialNet(t, "tcp", good.Addr().String())
	defer c.Close()
	if err := echoRoundTrip(c, []byte("still reading")); err != nil {
		t.Fatal(err)
	}
}

func TestContextOf(t *testing.T) {
	type session struct{ user string }
	g := startGroup(t, 1, loop.Config{})
	made := make(chan Transport, 1)
	ln, err := Listen(g, "tcp", "127.0.0.1:0", func() Protocol {
		r := newRecorder()
		r.made = made
		return r
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := dialNet(t, "tcp", ln.Addr().String())
	defer c.Close()
	tr := <-made
	if _, ok := ContextOf[*session](tr); ok {
		t.Fatal("ContextOf found a value before SetContext")
	}
	tr.SetContext(&session{user: "ada"})
	if s, ok := ContextOf[*session](tr); !ok || s.user != "ada" {
		t.Fatalf("ContextOf = %v, %v", s, ok)
	}
	if _, ok := ContextOf[string](tr); ok {
		t.Fatal("ContextOf took a *session for a string")
	}
}
