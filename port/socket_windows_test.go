package port_test

import (
	"bytes"
	"errors"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/cport/cport/internal/sock"
	"github.com/cport/cport/port"
)

// Socket operations on the iocp backend: AcceptEx, ConnectEx, WSARecv,
// WSASend, the emulated multishots, UDP, cancel.

func TestAccept(t *testing.T) {
	p := openPort(t, port.Config{})
	fd, peer := connPair(t, p)
	got, err := sock.PeerAddr(fd)
	if err != nil {
		t.Fatalf("PeerAddr of the accepted socket (SO_UPDATE_ACCEPT_CONTEXT): %v", err)
	}
	if want := peer.LocalAddr().String(); got.String() != want {
		t.Fatalf("accepted socket's peer %v, want the client %v", got, want)
	}
}

func TestAcceptMultishot(t *testing.T) {
	p := openPort(t, port.Config{})
	ln, addr := listenTCP(t)
	const clients = 40
	k := p.register()
	p.submit(k, port.AcceptMultishot(ln))
	dialAsync(t, addr, clients)
	seen := map[int32]bool{}
	for _, c := range p.waitN(clients) {
		if c.Key != k || c.Res < 0 || !c.More() || seen[c.Res] {
			t.Fatalf("completion %+v (%v), want a new socket with FlagMore for %v", c, c.Err(), k)
		}
		seen[c.Res] = true
		closeOnCleanup(t, int(c.Res))
		if _, err := sock.PeerAddr(int(c.Res)); err != nil {
			t.Fatalf("PeerAddr of accepted socket %d: %v", c.Res, err)
		}
	}
	if err := p.Cancel(k); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	c := p.waitKey(k)
	if c.More() {
		t.Fatalf("completion after Cancel %+v has FlagMore, want the last", c)
	}
	wantErr(t, "cancelled multishot accept", c, syscall.ECANCELED)
}

func TestConnect(t *testing.T) {
	p := openPort(t, port.Config{})
	client, server := tcpPair(t, p)
	local, err := sock.LocalAddr(client)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := sock.PeerAddr(server)
	if err != nil {
		t.Fatal(err)
	}
	if local != peer {
		t.Fatalf("client is %v, server sees %v; want the same connection", local, peer)
	}
	if _, err := sock.PeerAddr(client); err != nil {
		t.Fatalf("PeerAddr of the connected socket (SO_UPDATE_CONNECT_CONTEXT): %v", err)
	}
}

func TestConnectRefused(t *testing.T) {
	p := openPort(t, port.Config{})
	_, addr := boundSocket(t, syscall.SOCK_STREAM) // bound, never listening
	fd := newSocket(t, syscall.SOCK_STREAM)
	wantErr(t, "connect to a port nobody listens on", p.do(port.Connect(fd, addr)), syscall.ECONNREFUSED)
}

func TestConnectUnixUnsupported(t *testing.T) {
	p := openPort(t, port.Config{})
	fd := newSocket(t, syscall.SOCK_STREAM)
	if err := p.Submit(p.register(), port.ConnectUnix(fd, `C:\nowhere`)); err == nil {
		t.Fatal("ConnectUnix on Windows: nil error, want one")
	}
}

func TestSendRecv(t *testing.T) {
	p := openPort(t, port.Config{})
	client, server := tcpPair(t, p)
	buf := make([]byte, 64)
	for _, m := range []struct {
		from, to int
		text     string
	}{{client, server, "ping"}, {server, client, "pong"}} {
		wantRes(t, "send "+m.text, p.do(port.Send(m.from, []byte(m.text))), int32(len(m.text)))
		c := p.do(port.Recv(m.to, buf))
		if c.Res != int32(len(m.text)) || string(buf[:c.Res]) != m.text {
			t.Fatalf("recv: %d %q, want %q", c.Res, buf[:max(c.Res, 0)], m.text)
		}
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

func TestRecvEOF(t *testing.T) {
	p := openPort(t, port.Config{})
	fd, peer := connPair(t, p)
	k := p.register()
	p.submit(k, port.Recv(fd, make([]byte, 16)))
	peer.Close()
	wantRes(t, "recv after the peer closed", p.waitKey(k), 0)
}

func TestRecvEOFAfterCloseOp(t *testing.T) {
	p := openPort(t, port.Config{})
	ln, addr := listenTCP(t)
	client, err := sock.Socket(addr, syscall.SOCK_STREAM)
	if err != nil {
		t.Fatal(err)
	}
	wantRes(t, "connect", p.do(port.Connect(client, addr)), 0)
	c := p.do(port.Accept(ln))
	if c.Res < 0 {
		t.Fatalf("accept: %v", c.Err())
	}
	server := int(c.Res)
	closeOnCleanup(t, server)
	k := p.register()
	p.submit(k, port.Recv(server, make([]byte, 16)))
	wantRes(t, "close of the client", p.do(port.Close(client)), 0)
	wantRes(t, "recv after the peer closed", p.waitKey(k), 0)
}

func TestShutdownWriteHalfCloses(t *testing.T) {
	p := openPort(t, port.Config{})
	fd, peer := connPair(t, p)
	wantRes(t, "shutdown", p.do(port.Shutdown(fd, port.ShutWrite)), 0)
	if b, err := io.ReadAll(peer); err != nil || len(b) != 0 {
		t.Fatalf("peer read %q, %v; want end of stream", b, err)
	}
	mustWrite(t, peer, []byte("still open"))
	buf := make([]byte, 16)
	c := p.do(port.Recv(fd, buf))
	if c.Res != 10 || string(buf[:10]) != "still open" {
		t.Fatalf("recv on the half-closed side: %d %q, want %q", c.Res, buf[:max(c.Res, 0)], "still open")
	}
}

func TestCancelRecv(t *testing.T) {
	p := openPort(t, port.Config{})
	fd, _ := connPair(t, p)
	k := p.register()
	p.submit(k, port.Recv(fd, make([]byte, 16)))
	if n, err := p.Wait(make([]port.Completion, 4), 0); n != 0 || err != nil {
		t.Fatalf("Wait(0) = %d, %v; want 0, nil while nothing was sent", n, err)
	}
	if err := p.Cancel(k); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	wantErr(t, "cancelled recv", p.waitKey(k), syscall.ECANCELED)
}

func TestSubmitBusy(t *testing.T) {
	p := openPort(t, port.Config{})
	fd, _ := connPair(t, p)
	k := p.register()
	p.submit(k, port.Recv(fd, make([]byte, 16)))
	if err := p.Submit(k, port.Nop()); !errors.Is(err, port.ErrBusy) {
		t.Fatalf("Submit on a busy key: %v, want ErrBusy", err)
	}
	if err := p.Cancel(k); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	wantErr(t, "cancelled recv", p.waitKey(k), syscall.ECANCELED)
}

func TestReleaseInFlight(t *testing.T) {
	p := openPort(t, port.Config{})
	fd, _ := connPair(t, p)
	k1 := p.register()
	p.submit(k1, port.Recv(fd, make([]byte, 16)))
	if err := p.Release(k1); err != nil {
		t.Fatalf("Release in flight: %v", err)
	}
	if k2 := p.register(); k2 == k1 {
		t.Fatalf("Register while %v is in flight returned the same key", k1)
	}
	if err := p.Submit(k1, port.Nop()); !errors.Is(err, port.ErrStaleKey) {
		t.Fatalf("Submit on the released key: %v, want ErrStaleKey", err)
	}
	p.drain(k1)
	if k3 := p.register(); k3 == k1 {
		t.Fatalf("key %v came back after its release, want a new generation", k3)
	}
}

func TestCancelFD(t *testing.T) {
	p := openPort(t, port.Config{})
	a, _ := connPair(t, p)
	b, peerB := connPair(t, p)
	k1, k2, kb := p.register(), p.register(), p.register()
	p.submit(k1, port.Recv(a, make([]byte, 16)))
	p.submit(k2, port.Recv(a, make([]byte, 16)))
	bufB := make([]byte, 16)
	p.submit(kb, port.Recv(b, bufB))
	if err := p.CancelFD(a); err != nil {
		t.Fatalf("CancelFD: %v", err)
	}
	got := map[port.Key]port.Completion{}
	for _, c := range p.waitN(2) {
		got[c.Key] = c
	}
	wantErr(t, "first recv on the cancelled socket", got[k1], syscall.ECANCELED)
	wantErr(t, "second recv on the cancelled socket", got[k2], syscall.ECANCELED)
	mustWrite(t, peerB, []byte("still here"))
	c := p.waitKey(kb)
	if c.Res < 0 || string(bufB[:c.Res]) != "still here" {
		t.Fatalf("recv on the other socket: %d %q, want %q", c.Res, bufB[:max(c.Res, 0)], "still here")
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

func TestRecvMultishot(t *testing.T) {
	p := openPort(t, port.Config{Buffers: 8, BufferSize: 4096})
	fd, peer := connPair(t, p)
	k := p.register()
	p.submit(k, port.RecvMultishot(fd))
	for i, msg := range []string{"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"} {
		mustWrite(t, peer, []byte(msg))
		c := p.waitKey(k)
		id, ok := c.BufferID()
		if !c.More() || !ok || string(p.Buffer(c)) != msg {
			t.Fatalf("message %d: completion %+v (%v) holds %q, want %q with FlagMore and a buffer", i, c, c.Err(), p.Buffer(c), msg)
		}
		p.RecycleBuffer(id)
	}
	if err := p.Cancel(k); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	c := p.waitKey(k)
	if c.More() {
		t.Fatalf("completion after Cancel %+v has FlagMore, want the last", c)
	}
	wantErr(t, "cancelled multishot recv", c, syscall.ECANCELED)
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

func TestRecvMultishotEOF(t *testing.T) {
	p := openPort(t, port.Config{Buffers: 8, BufferSize: 4096})
	fd, peer := connPair(t, p)
	k := p.register()
	p.submit(k, port.RecvMultishot(fd))
	peer.Close()
	c := p.waitKey(k)
	if c.More() || c.Res != 0 {
		t.Fatalf("completion at end of stream %+v, want result 0 without FlagMore", c)
	}
}

func TestRecvMultishotRunsOutOfBuffers(t *testing.T) {
	const buffers, size = 8, 4096
	p := openPort(t, port.Config{Buffers: buffers, BufferSize: size})
	fd, peer := connPair(t, p)
	src := pattern(buffers*size + 3*size + 100) // more than the pool holds
	sent := writeAsync(peer, src)
	var got []byte
	var held []uint16
	k := p.register()
	p.submit(k, port.RecvMultishot(fd))
	for {
		c := p.waitKey(k)
		if !c.More() {
			wantErr(t, "multishot recv with every buffer held", c, syscall.ENOBUFS)
			break
		}
		id, ok := c.BufferID()
		if !ok || c.Res <= 0 {
			t.Fatalf("completion %+v (%v), want data in a buffer", c, c.Err())
		}
		got = append(got, p.Buffer(c)...)
		held = append(held, id)
	}
	if len(held) != buffers {
		t.Fatalf("%d completions before ENOBUFS, want %d (one per buffer)", len(held), buffers)
	}
	for _, id := range held {
		p.RecycleBuffer(id)
	}
	p.submit(k, port.RecvMultishot(fd))
	for len(got) < len(src) {
		c := p.waitKey(k)
		if !c.More() {
			wantErr(t, "multishot recv ending early", c, syscall.ENOBUFS)
			p.submit(k, port.RecvMultishot(fd))
			continue
		}
		id, ok := c.BufferID()
		if !ok {
			t.Fatalf("completion %+v (%v) after %d of %d bytes, want more data", c, c.Err(), len(got), len(src))
		}
		got = append(got, p.Buffer(c)...)
		p.RecycleBuffer(id)
	}
	if err := <-sent; err != nil {
		t.Fatalf("peer write: %v", err)
	}
	if !bytes.Equal(got, src) {
		t.Fatalf("received %d bytes, equal %v; want the %d sent, byte for byte", len(got), bytes.Equal(got, src), len(src))
	}
	if err := p.Cancel(k); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	wantErr(t, "cancelled multishot recv", p.waitKey(k), syscall.ECANCELED)
}

func TestRecvMultishotLongStream(t *testing.T) {
	p := openPort(t, port.Config{Buffers: 64, BufferSize: 1024})
	fd, peer := connPair(t, p)
	src := pattern(1 << 20)
	sent := writeAsync(peer, src)
	var got []byte
	k := p.register()
	p.submit(k, port.RecvMultishot(fd))
	for len(got) < len(src) {
		c := p.waitKey(k)
		if !c.More() {
			wantErr(t, "multishot recv ending early", c, syscall.ENOBUFS)
			p.submit(k, port.RecvMultishot(fd))
			continue
		}
		id, ok := c.BufferID()
		if !ok || c.Res <= 0 {
			t.Fatalf("completion %+v (%v), want data in a buffer", c, c.Err())
		}
		got = append(got, p.Buffer(c)...)
		p.RecycleBuffer(id)
	}
	if err := <-sent; err != nil {
		t.Fatalf("peer write: %v", err)
	}
	if !bytes.Equal(got, src) {
		t.Fatalf("received %d bytes, equal %v; want the %d sent, byte for byte", len(got), bytes.Equal(got, src), len(src))
	}
	if err := p.Cancel(k); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	wantErr(t, "cancelled multishot recv", p.waitKey(k), syscall.ECANCELED)
}

func TestRecvMultishotWithoutBuffers(t *testing.T) {
	p := openPort(t, port.Config{})
	fd, _ := connPair(t, p)
	if err := p.Submit(p.register(), port.RecvMultishot(fd)); !errors.Is(err, port.ErrNoBuffers) {
		t.Fatalf("RecvMultishot without a pool: %v, want ErrNoBuffers", err)
	}
}

// A buffer recycled twice must go back to the pool once only.
func TestRecycleTwiceIsIgnored(t *testing.T) {
	const buffers = 2
	p := openPort(t, port.Config{Buffers: buffers, BufferSize: 64})
	fd, peer := connPair(t, p)
	k := p.register()
	p.submit(k, port.RecvMultishot(fd))
	mustWrite(t, peer, []byte("first"))
	c := p.waitKey(k)
	id, ok := c.BufferID()
	if !ok {
		t.Fatalf("completion %+v has no buffer", c)
	}
	p.RecycleBuffer(id)
	p.RecycleBuffer(id) // the bug under test
	p.RecycleBuffer(buffers + 5)
	held := map[uint16]bool{}
	for i := 0; ; i++ {
		mustWrite(t, peer, []byte{byte(i)})
		c := p.waitKey(k)
		if !c.More() {
			wantErr(t, "multishot recv with every buffer held", c, syscall.ENOBUFS)
			break
		}
		id, _ := c.BufferID()
		if held[id] {
			t.Fatalf("buffer %d handed out twice", id)
		}
		held[id] = true
	}
	if len(held) != buffers {
		t.Errorf("%d buffers handed out, want %d", len(held), buffers)
	}
}

func TestUDPSendMsgRecvMsg(t *testing.T) {
	p := openPort(t, port.Config{})
	a, addrA := boundSocket(t, syscall.SOCK_DGRAM)
	b, addrB := boundSocket(t, syscall.SOCK_DGRAM)
	kr := p.register()
	head, tail := make([]byte, 5), make([]byte, 64)
	in := &port.Msg{Buffers: [][]byte{head, tail}}
	p.submit(kr, port.RecvMsg(b, in))
	out := &port.Msg{Buffers: [][]byte{[]byte("hello, "), []byte("datagram")}, Addr: addrB}
	wantRes(t, "sendmsg", p.do(port.SendMsg(a, out)), 15)
	c := p.waitKey(kr)
	if got := string(head) + string(tail[:max(c.Res-5, 0)]); c.Res != 15 || got != "hello, datagram" {
		t.Fatalf("recvmsg: %d %q, want 15 %q across both buffers", c.Res, got, "hello, datagram")
	}
	if in.Addr != addrA {
		t.Fatalf("recvmsg source %v, want %v", in.Addr, addrA)
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

func TestCloseWithOpsInFlight(t *testing.T) {
	p := openPort(t, port.Config{Buffers: 4, BufferSize: 1024})
	a, _ := connPair(t, p)
	b, _ := connPair(t, p)
	r, _ := pipe(t)
	ln, _ := listenTCP(t)
	ops := []port.Op{
		port.Recv(a, make([]byte, 16)),
		port.RecvMultishot(b),
		port.Read(r, make([]byte, 16), -1),
		port.AcceptMultishot(ln),
		port.Timeout(time.Hour),
	}
	for _, op := range ops {
		p.submit(p.register(), op)
	}
	if _, err := p.Wait(make([]port.Completion, 4), 0); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close with %d ops in flight: %v", len(ops), err)
	}
	if n := p.InFlight(); n != 0 {
		t.Fatalf("InFlight() after Close = %d, want 0", n)
	}
}
