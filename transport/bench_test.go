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

// benchmarkEcho measures one echoed message end to end — client write,
// server read, server write, client read — through two loops. Allocations
// are counted process-wide, so allocs/op covers both sides.
func benchmarkEcho(b *testing.B, size int) {
	g := startGroup(b, 1, loop.Config{})
	ln := listenEcho(b, g, "tcp", "127.0.0.1:0")
	cg := startGroup(b, 1, loop.Config{})
	cl := cg.Loops()[0]
	p := &pingClient{payload: make([]byte, size), done: make(chan struct{}, 1)}
	t, err := Dial(context.Background(), cl, "tcp", ln.Addr().String(), p)
	if err != nil {
		b.Fatal(err)
	}
	defer t.Close()
	run := func(n int) {
		cl.Post(func() {
			p.left = n
			p.t.Write(p.payload)
		})
		<-p.done
	}
	run(1000) // warm the pools and the connection
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	run(b.N)
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
		g := startGroup(t, 1, loop.Config{})
		ln := listenEcho(t, g, "tcp", "127.0.0.1:0")
		cg := startGroup(t, 1, loop.Config{})
		cl := cg.Loops()[0]
		p := &pingClient{payload: make([]byte, size), done: make(chan struct{}, 1)}
		tr, err := Dial(context.Background(), cl, "tcp", ln.Addr().String(), p)
		if err != nil {
			t.Fatal(err)
		}
		run := func(n int) {
			cl.Post(func() {
				p.left = n
				p.t.Write(p.payload)
			})
			<-p.done
		}
		run(500)
		const messages = 2000
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		run(messages)
		runtime.ReadMemStats(&after)
		if n := after.Mallocs - before.Mallocs; n > messages/100 {
			t.Errorf("%d-byte messages: %d allocations for %d echoes, want none per message (a few strays at most)", size, n, messages)
		}
		tr.Close()
	}
}
