package flow_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
	"github.com/cport/cport/transport"
)

// floodProto writes limit bytes as fast as its transport lets it,
// stopping at PauseWriting and going on at ResumeWriting, then closes.
type floodProto struct {
	transport.BaseProtocol
	t               transport.Transport
	chunk           []byte
	total, limit    int
	paused          bool
	pauses, resumes int
	maxQueued       int
	done            chan *floodProto
}

func (p *floodProto) ConnectionMade(t transport.Transport) {
	p.t = t
	t.SetWriteBufferLimits(64<<10, 16<<10)
	p.fill()
}

func (p *floodProto) fill() {
	for !p.paused && p.total < p.limit {
		p.t.Write(p.chunk)
		p.total += len(p.chunk)
		p.maxQueued = max(p.maxQueued, p.t.WriteBufferSize())
	}
	if p.total >= p.limit {
		p.t.Close()
	}
}

func (p *floodProto) PauseWriting() { p.paused = true; p.pauses++ }

func (p *floodProto) ResumeWriting() {
	p.paused = false
	p.resumes++
	p.fill()
}

func (p *floodProto) ConnectionLost(error) { p.done <- p }

// A Protocol over TLS that outruns its reader is paused at the high
// watermark and resumed below the low one; nothing is lost.
func TestTLSTransportWatermarks(t *testing.T) {
	cert := newTestCert(t)
	g := startGroup(t, 1)
	const limit = 32 << 20
	done := make(chan *floodProto, 1)
	c := dialProtocolTLS(t, g, cert, func() transport.Protocol { return &floodProto{chunk: make([]byte, 32<<10), limit: limit, done: done} })
	time.Sleep(100 * time.Millisecond) // let the server fill every buffer
	c.SetDeadline(time.Now().Add(hangGuard))
	n, err := io.Copy(io.Discard, c)
	if err != nil || n != limit {
		t.Fatalf("read %d, %v; want %d", n, err, limit)
	}
	p := within(t, done, "ConnectionLost")
	if p.pauses == 0 || p.resumes == 0 || p.maxQueued > 1<<20 {
		t.Errorf("pauses %d, resumes %d, most queued %d: want both, and under 1 MiB", p.pauses, p.resumes, p.maxQueued)
	}
}

// A reader flow and a writer flow on one tls.Conn at once, against a
// client doing the same: both directions arrive whole.
func TestTLSFullDuplexFlows(t *testing.T) {
	cert := newTestCert(t)
	g := startGroup(t, 1)
	ln := listenTLS(t, g, cert)
	const size = 2 << 20
	down := randomBytes(21, size)
	served := make(chan [32]byte, 1)
	serveOneTLS(t, ln, func(f *flow.Flow, c *flow.TLSConn) {
		w := flow.Go(f.Loop(), func(*flow.Flow) {
			for off := 0; off < size; off += 32 << 10 {
				if _, err := c.Write(down[off : off+32<<10]); err != nil {
					t.Errorf("server write: %v", err)
					return
				}
			}
		})
		h := sha256.New()
		if _, err := io.CopyN(h, c, size); err != nil {
			t.Errorf("server read: %v", err)
		}
		w.Join(f.Context())
		served <- [32]byte(h.Sum(nil))
	})
	c, err := tls.Dial("tcp", ln.Addr().String(), cert.client())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(hangGuard))
	up := randomBytes(22, size)
	go c.Write(up)
	got := make([]byte, size)
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, down) {
		t.Fatalf("client read: %v, equal %v", err, bytes.Equal(got, down))
	}
	if h := within(t, served, "the server's read"); h != sha256.Sum256(up) {
		t.Fatal("the server read other bytes than the client wrote")
	}
}

// A writer flow is parked at the watermark (its peer reads nothing) when
// a record that fails to decrypt reaches a reader flow of the same
// connection: the Read must send its alert (crypto/tls's sending lock is
// free) and fail, the writer must have queued only a bounded amount, and
// the loop must go on. (A KeyUpdate asking for one back takes the same
// path; Go's client has no way to send one.)
func TestTLSReadAlertWhileWriterParked(t *testing.T) {
	cert := newTestCert(t)
	g := startGroup(t, 1)
	ln := listenTLS(t, g, cert)
	var written atomic.Int64
	readErr := make(chan error, 1)
	writerDone := make(chan error, 1)
	serveOneTLS(t, ln, func(f *flow.Flow, c *flow.TLSConn) {
		flow.Go(f.Loop(), func(*flow.Flow) {
			chunk := make([]byte, 64<<10)
			for {
				if _, err := c.Write(chunk); err != nil {
					writerDone <- err
					return
				}
				written.Add(int64(len(chunk)))
			}
		})
		_, err := c.Read(make([]byte, 1024))
		readErr <- err
	})
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	client := tls.Client(raw, cert.client())
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	// The client reads nothing, so the writer soon parks past the
	// watermark: wait until its count stops moving.
	deadline := time.Now().Add(hangGuard)
	for last := int64(-1); ; {
		time.Sleep(20 * time.Millisecond)
		n := written.Load()
		if n > 0 && n == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server writer never stopped: %d bytes written", n)
		}
		last = n
	}
	if n := written.Load(); n > 32<<20 {
		t.Fatalf("the writer queued %d bytes for a peer that reads nothing: flow control is off", n)
	}
	// An application-data record of random bytes: its tag cannot match.
	record := append([]byte{23, 3, 3, 0, 64}, randomBytes(23, 64)...)
	if _, err := raw.Write(record); err != nil {
		t.Fatal(err)
	}
	if err := within(t, readErr, "the server's Read of the bad record"); err == nil {
		t.Fatal("the server read a record that cannot decrypt")
	} else {
		t.Logf("server Read: %v", err)
	}
	if err := within(t, writerDone, "the parked writer's end"); err == nil {
		t.Fatal("the parked writer's Write succeeded after the connection closed")
	}
	// The loop still runs flows.
	alive := make(chan struct{})
	flow.Go(g.Loops()[0], func(*flow.Flow) { close(alive) })
	within(t, alive, "a new flow on the loop")
}

// tlsEchoWatcher echoes over TLS, ignoring PauseWriting, and records the
// largest write queue it saw.
type tlsEchoWatcher struct {
	transport.BaseProtocol
	t    transport.Transport
	max  int
	done chan int
}

func (e *tlsEchoWatcher) ConnectionMade(t transport.Transport) { e.t = t }
func (e *tlsEchoWatcher) DataReceived(b []byte) {
	e.t.Write(b)
	e.max = max(e.max, e.t.WriteBufferSize())
}
func (e *tlsEchoWatcher) ConnectionLost(error) { e.done <- e.max }

// A TLS client that sends without reading: the callback echo over TLS
// stops reading while its replies wait, as a plain transport does, so its
// queue stays near the watermark; then everything comes back.
func TestTLSTransportSlowReaderBounded(t *testing.T) {
	cert := newTestCert(t)
	g := startGroup(t, 1)
	done := make(chan int, 1)
	c := dialProtocolTLS(t, g, cert, func() transport.Protocol { return &tlsEchoWatcher{done: done} })
	src := randomBytes(5, 16<<20)
	sum := make(chan [32]byte, 1)
	go func() {
		time.Sleep(200 * time.Millisecond) // a slow reader: the replies back up meanwhile
		h := sha256.New()
		c.SetReadDeadline(time.Now().Add(hangGuard))
		io.CopyN(h, c, int64(len(src)))
		var s [32]byte
		copy(s[:], h.Sum(nil))
		sum <- s
	}()
	// Written before the reader has read much: the server's replies back
	// up while the client keeps sending.
	c.SetWriteDeadline(time.Now().Add(hangGuard))
	if _, err := c.Write(src); err != nil {
		t.Fatal(err)
	}
	if got := within(t, sum, "the echo"); got != sha256.Sum256(src) {
		t.Fatal("the echo differs from what was sent")
	}
	c.Close()
	if most := within(t, done, "ConnectionLost"); most > 1<<20 {
		t.Errorf("the TLS echo queued up to %d bytes; want under 1 MiB", most)
	}
}

// A client that connects to a ListenTLS server and never sends its
// ClientHello is closed at the handshake timeout, as TLSServer's are; one
// that handshakes in time keeps its connection past it.
func TestListenTLSHandshakeTimeout(t *testing.T) {
	cert := newTestCert(t)
	g := startGroup(t, 1)
	ln, err := flow.TLSListenConfig{HandshakeTimeout: 200 * time.Millisecond}.Listen(t.Context(), g, "tcp", "127.0.0.1:0", cert.server())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			flow.Go(flow.LoopOf(c), func(*flow.Flow) {
				defer c.Close()
				buf := make([]byte, 1024)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					c.Write(buf[:n])
				}
			})
		}
	}()
	silent, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	good, err := tls.Dial("tcp", ln.Addr().String(), cert.client())
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	silent.SetReadDeadline(time.Now().Add(hangGuard))
	if n, err := silent.Read(make([]byte, 1)); err == nil {
		t.Fatalf("the silent client read %d bytes; want its connection closed", n)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the silent client's connection was still open after the guard")
	}
	// Past the handshake timeout, the client that handshook is served.
	time.Sleep(300 * time.Millisecond)
	good.SetDeadline(time.Now().Add(hangGuard))
	if _, err := good.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(good, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo after the handshake timeout: %q, %v", got, err)
	}
}

// dialProtocolTLS serves factory's protocol over TLS on g and returns a
// client connected to it; both close when the test ends.
func dialProtocolTLS(t *testing.T, g *loop.Group, cert *testCert, factory func() transport.Protocol) *tls.Conn {
	t.Helper()
	ln, err := flow.ServeProtocolTLS(g, "tcp", "127.0.0.1:0", cert.server(), factory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c, err := tls.Dial("tcp", ln.Addr().String(), cert.client())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
