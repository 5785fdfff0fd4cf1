package transport

import (
	"context"
	"runtime"
	"testing"

	"github.com/cport/cport/loop"
)

// pingClient sends a message, waits for the whole echo, and repeats until
// it has done left round trips.
type pingClient struct {
	BaseProtocol
	t       Transport
	payload []byte
	got     int
	left    int
	done    chan struct{}
}

func (p *pingClient) ConnectionMade(t Transport) { p.t = t }

func (p *pingClient) DataReceived(data []byte) {
	p.got += len(data)
	for p.got >= len(p.payload) {
		p.got -= len(p.payload)
		p.left--
		if p.left == 0 {
			p.done <- struct{}{}
			return
		}
		p.t.Write(p.payload)
	}
}

// echoPair is an echo server and a pingClient connected to it, each on a
// loop of its own.
type echoPair struct {
	p  *pingClient
	cl *loop.Loop
}

// newEchoPair starts the server and connects the client, which sends
// messages of size bytes; the connection closes when the test ends.
func newEchoPair(tb testing.TB, size int) *echoPair {
	tb.Helper()
	g := startGroup(tb, 1, loop.Config{})
	ln := listenEcho(tb, g, "tcp", "127.0.0.1:0")
	cg := startGroup(tb, 1, loop.Config{})
	cl := cg.Loops()[0]
	p := &pingClient{payload: make([]byte, size), done: make(chan struct{}, 1)}
	tr, err := Dial(context.Background(), cl, "tcp", ln.Addr().String(), p)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { tr.Close() })
	return &echoPair{p: p, cl: cl}
}

// start has the client make n round trips; p.done hears when they are
// over.
func (e *echoPair) start(n int) {
	e.cl.Post(func() {
		e.p.left = n
		e.p.t.Write(e.p.payload)
	})
}

// run makes n round trips.
func (e *echoPair) run(n int) {
	e.start(n)
	<-e.p.done
}

// benchmarkEcho measures one echoed message end to end — client write,
// server read, server write, client read — through two loops. Allocations
// are counted process-wide, so allocs/op covers both sides.
func benchmarkEcho(b *testing.B, size int) {
	e := newEchoPair(b, size)
	e.run(1000) // warm the pools and the connection
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	e.run(b.N)
}

func BenchmarkEcho64(b *testing.B)  { benchmarkEcho(b, 64) }
func BenchmarkEcho16K(b *testing.B) { benchmarkEcho(b, 16<<10) }
func BenchmarkEcho64K(b *testing.B) { benchmarkEcho(b, 64<<10) }

// An echoed message allocates nothing once the connection and the loop's
// pools are warm, on either side of the connection: a per-message
// allocation would show as thousands here, where stray allocations of the
// runtime or the test come to a handful.
func TestEchoAllocatesNothing(t *testing.T) {
	for _, size := range []int{64, 16 << 10} {
		e := newEchoPair(t, size)
		e.run(500)
		const messages = 2000
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		e.run(messages)
		runtime.ReadMemStats(&after)
		if n := after.Mallocs - before.Mallocs; n > messages/100 {
			t.Errorf("%d-byte messages: %d allocations for %d echoes, want none per message (a few strays at most)", size, n, messages)
		}
	}
}
