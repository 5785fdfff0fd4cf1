package transport

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/cport/cport/internal/looptest"
	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
)

// hangGuard bounds every wait in these tests; it is a guard against a hang,
// not a measure of speed.
const hangGuard = 30 * time.Second

// startGroup starts n loops on the backend CPORT_BACKEND names (the suite
// runs once per backend) and closes them when the test ends.
func startGroup(t testing.TB, n int, cfg loop.Config) *loop.Group {
	t.Helper()
	looptest.Watch(t)
	g, err := loop.NewGroup(n, cfg)
	if err != nil {
		t.Fatalf("NewGroup: %v", err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// recorder is a Protocol that records what happens to a connection.
type recorder struct {
	BaseProtocol
	mu        sync.Mutex
	t         Transport
	data      []byte
	eof       bool
	keepOpen  bool
	lost      chan error
	made      chan Transport
	paused    int
	resumed   int
	onData    func(r *recorder, data []byte)
	onEOF     func(r *recorder)
	pauseCh   chan struct{}
	resumeCh  chan struct{}
	lostCount int
}

func newRecorder() *recorder {
	return &recorder{lost: make(chan error, 1), made: make(chan Transport, 1),
		pauseCh: make(chan struct{}, 16), resumeCh: make(chan struct{}, 16)}
}

func (r *recorder) ConnectionMade(t Transport) {
	r.t = t
	r.made <- t
}

func (r *recorder) DataReceived(data []byte) {
	r.mu.Lock()
	r.data = append(r.data, data...)
	r.mu.Unlock()
	if r.onData != nil {
		r.onData(r, data)
	}
}

func (r *recorder) EOFReceived() bool {
	r.mu.Lock()
	r.eof = true
	r.mu.Unlock()
	if r.onEOF != nil {
		r.onEOF(r)
	}
	return r.keepOpen
}

func (r *recorder) ConnectionLost(err error) {
	r.mu.Lock()
	r.lostCount++
	r.mu.Unlock()
	r.lost <- err
}

func (r *recorder) PauseWriting() {
	r.mu.Lock()
	r.paused++
	r.mu.Unlock()
	r.pauseCh <- struct{}{}
}

func (r *recorder) ResumeWriting() {
	r.mu.Lock()
	r.resumed++
	r.mu.Unlock()
	r.resumeCh <- struct{}{}
}

func (r *recorder) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.data...)
}

// waitLost waits for ConnectionLost and returns its error.
func (r *recorder) waitLost(t testing.TB) error {
	t.Helper()
	select {
	case err := <-r.lost:
		return err
	case <-time.After(hangGuard):
		t.Fatal("ConnectionLost never came")
		return nil
	}
}

func (r *recorder) waitMade(t testing.TB) Transport {
	t.Helper()
	select {
	case tr := <-r.made:
		return tr
	case <-time.After(hangGuard):
		t.Fatal("ConnectionMade never came")
		return nil
	}
}

// echo is the echo protocol: it writes back what it reads and closes on EOF.
type echo struct {
	BaseProtocol
	t Transport
}

func (e *echo) ConnectionMade(t Transport) { e.t = t }
func (e *echo) DataReceived(data []byte)   { e.t.Write(data) }

// listenEcho serves echo on a group's loops and returns the address.
func listenEcho(t testing.TB, g *loop.Group, network, addr string) *Listener {
	t.Helper()
	ln, err := Listen(g, network, addr, func() Protocol { return &echo{} })
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// dialNet connects with Go's own net package: the peer is a real,
// independent implementation.
func dialNet(t testing.TB, network, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout(network, addr, hangGuard)
	if err != nil {
		t.Fatalf("net.Dial: %v", err)
	}
	return c
}

// portConfig is a port configuration with a provided-buffer pool of count
// buffers of size bytes.
func portConfig(count, size int) port.Config {
	return port.Config{Buffers: count, BufferSize: size}
}
