package port_test

import (
	"bytes"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/cport/cport/port"
)

// Socket operations on the iocp backend: AcceptEx, ConnectEx, WSARecv,
// WSASend, the emulated multishots, UDP, cancel.

func TestConnectUnixUnsupported(t *testing.T) {
	p := openPort(t, port.Config{})
	fd := newSocket(t, syscall.SOCK_STREAM)
	if err := p.Submit(p.register(), port.ConnectUnix(fd, `C:\nowhere`)); err == nil {
		t.Fatal("ConnectUnix on Windows: nil error, want one")
	}
}

func TestSendToGoPeer(t *testing.T) {
	p := openPort(t, port.Config{})
	fd, peer := connPair(t, p)
	src := pattern(1 << 20)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	for off := 0; off < len(src); {
		c := p.do(port.Send(fd, src[off:]))
		if c.Res <= 0 {
			t.Fatalf("send at %d: %v", off, c.Err())
		}
		off += int(c.Res)
	}
	wantRes(t, "shutdown", p.do(port.Shutdown(fd, port.ShutWrite)), 0)
	if b := <-got; !bytes.Equal(b, src) {
		t.Fatalf("peer read %d bytes, equal %v; want the %d sent", len(b), bytes.Equal(b, src), len(src))
	}
}

// Closing a socket cancels what is in flight on it: closesocket ends its
// overlapped calls, unlike close(2) on Linux.
func TestCloseOpCancelsOnWindows(t *testing.T) {
	p := openPort(t, port.Config{})
	ln, addr := listenTCP(t)
	dialAsync(t, addr, 1)
	c := p.do(port.Accept(ln))
	if c.Res < 0 {
		t.Fatalf("accept: %v", c.Err())
	}
	fd := int(c.Res)
	k := p.register()
	p.submit(k, port.Recv(fd, make([]byte, 16)))
	wantRes(t, "close", p.do(port.Close(fd)), 0)
	wantErr(t, "recv on the closed socket", p.waitKey(k), syscall.ECANCELED)
}

// An idle multishot receive holds no buffer: all of the pool stays free
// while it waits.
func TestRecvMultishotIdleHoldsNoBuffer(t *testing.T) {
	const buffers = 2
	p := openPort(t, port.Config{Buffers: buffers, BufferSize: 64})
	var peers []interface{ Write([]byte) (int, error) }
	var keys []port.Key
	for range 3 * buffers { // more idle receives than buffers
		fd, peer := connPair(t, p)
		k := p.register()
		p.submit(k, port.RecvMultishot(fd))
		keys = append(keys, k)
		peers = append(peers, peer)
	}
	if n, err := p.Wait(make([]port.Completion, 8), 50*time.Millisecond); n != 0 || err != nil {
		t.Fatalf("Wait = %d, %v; want 0, nil while every connection is idle", n, err)
	}
	for i, k := range keys {
		if _, err := peers[i].Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		c := p.waitKey(k)
		id, ok := c.BufferID()
		if !ok || !c.More() || c.Res != 1 || p.Buffer(c)[0] != byte(i) {
			t.Fatalf("connection %d: completion %+v (%v), want its byte in a buffer", i, c, c.Err())
		}
		p.RecycleBuffer(id)
	}
}

func TestTimeoutAmongSockets(t *testing.T) {
	p := openPort(t, port.Config{})
	fd, _ := connPair(t, p)
	kr, kt := p.register(), p.register()
	p.submit(kr, port.Recv(fd, make([]byte, 16)))
	start := time.Now()
	p.submit(kt, port.Timeout(20*time.Millisecond))
	wantErr(t, "timeout while a recv waits", p.waitKey(kt), syscall.ETIME)
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("timeout of 20ms fired after %v", d)
	}
	p.Cancel(kr)
	wantErr(t, "cancelled recv", p.waitKey(kr), syscall.ECANCELED)
}
