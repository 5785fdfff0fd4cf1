//go:build linux || windows

package port_test

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/cport/cport/internal/sock"
	"github.com/cport/cport/port"
)

// Socket operations on every backend with sockets: accept, connect, send
// and receive, the multishots, UDP, cancel. The fixtures (streamPair and
// its peer, listenTCP, tcpPair, ...) come from fixture_GOOS_test.go and
// port_GOOS_test.go.

// pattern returns n bytes that differ from their neighbours, so a lost,
// doubled or reordered chunk shows.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((i * 2654435761) >> 13)
	}
	return b
}

// dialAsync connects n clients to addr with Go's net package, off the
// port's goroutine, and closes them when the test ends.
func dialAsync(t testing.TB, addr netip.AddrPort, n int) {
	t.Helper()
	conns := make(chan net.Conn, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			c, err := net.Dial("tcp", addr.String())
			if err != nil {
				errs <- err
				return
			}
			conns <- c
		}()
	}
	t.Cleanup(func() {
		for range n {
			select {
			case c := <-conns:
				c.Close()
			case err := <-errs:
				t.Errorf("dial %v: %v", addr, err)
			}
		}
	})
}

// tcpPair connects a client socket to a fresh listener with the Connect
// and Accept operations and returns both ends.
func tcpPair(t testing.TB, p *testPort) (client, server int) {
	t.Helper()
	ln, addr := listenTCP(t)
	client = rawSocket(t, syscall.SOCK_STREAM)
	closeOnCleanup(t, client)
	kc, ka := p.register(), p.register()
	p.submit(kc, port.Connect(client, addr))
	p.submit(ka, port.Accept(ln))
	server = -1
	for _, c := range p.waitN(2) {
		switch c.Key {
		case kc:
			wantRes(t, "connect", c, 0)
		case ka:
			if c.Res < 0 {
				t.Fatalf("accept: %v", c.Err())
			}
			server = int(c.Res)
			closeOnCleanup(t, server)
		default:
			t.Fatalf("completion %+v for an unknown key", c)
		}
	}
	p.Release(kc)
	p.Release(ka)
	return client, server
}

func TestReleaseInFlight(t *testing.T) {
	p := openPort(t, port.Config{})
	fd, _ := streamPair(t, p)
	k1 := p.register()
	p.submit(k1, port.Recv(fd, make([]byte, 16)))
	if _, err := p.Wait(make([]port.Completion, 4), 0); err != nil {
		t.Fatalf("Wait: %v", err)
	}
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
	wantRes(t, "nop on the new key", p.do(port.Nop()), 0)
}

func TestSubmitBusy(t *testing.T) {
	p := openPort(t, port.Config{})
	fd, _ := streamPair(t, p)
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

func TestCloseWithOpsInFlight(t *testing.T) {
	p := openPort(t, port.Config{Buffers: 4, BufferSize: 1024})
	a, _ := streamPair(t, p)
	b, _ := streamPair(t, p)
	r, _ := pipe(t)
	ln, _ := listenTCP(t)
	ops := []port.Op{
		port.Recv(a, make([]byte, 16)),
		port.RecvMultishot(b),
		port.Read(r, make([]byte, 16), -1),
		port.AcceptMultishot(ln),
		port.Timeout(time.Hour),
	}
	if pollSupported {
		ops = append(ops, port.Poll(a, port.PollIn))
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

func TestCancelRecv(t *testing.T) {
	p := openPort(t, port.Config{})
	fd, _ := streamPair(t, p)
	p.cancelPending("recv", "while nothing was sent", port.Recv(fd, make([]byte, 16)))
}

// CancelFD ends every operation on one socket, a receive and a poll where
// the backend polls, two receives where it does not, and no other.
func TestCancelFD(t *testing.T) {
	p := openPort(t, port.Config{})
	a, _ := streamPair(t, p)
	b, peerB := streamPair(t, p)
	k1, k2, kb := p.register(), p.register(), p.register()
	p.submit(k1, port.Recv(a, make([]byte, 16)))
	second, secondWhat := port.Recv(a, make([]byte, 16)), "second recv on the cancelled socket"
	if pollSupported {
		second, secondWhat = port.Poll(a, port.PollIn), "poll on the cancelled socket"
	}
	p.submit(k2, second)
	bufB := make([]byte, 16)
	p.submit(kb, port.Recv(b, bufB))
	if n, err := p.Wait(make([]port.Completion, 4), 0); n != 0 || err != nil {
		t.Fatalf("Wait(0) = %d, %v; want 0, nil while nothing was sent", n, err)
	}
	if err := p.CancelFD(a); err != nil {
		t.Fatalf("CancelFD: %v", err)
	}
	got := map[port.Key]port.Completion{}
	for _, c := range p.waitN(2) {
		got[c.Key] = c
	}
	if len(got) != 2 {
		t.Fatalf("completions %v, want one each for %v and %v", got, k1, k2)
	}
	wantErr(t, "recv on the cancelled socket", got[k1], syscall.ECANCELED)
	wantErr(t, secondWhat, got[k2], syscall.ECANCELED)
	// The other socket's operation is untouched: it still receives.
	peerB.write([]byte("still here"))
	c := p.waitKey(kb)
	if c.Res < 0 || string(bufB[:c.Res]) != "still here" {
		t.Fatalf("recv on the other socket: %d %q, want %q", c.Res, bufB[:max(c.Res, 0)], "still here")
	}
}

// connPair accepts a connection from a Go net.Conn peer with the Accept
// op and returns the accepted socket and the peer.
func connPair(t testing.TB, p *testPort) (int, net.Conn) {
	t.Helper()
	ln, addr := listenTCP(t)
	peer := make(chan net.Conn, 1)
	go func() {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Errorf("dial: %v", err)
		}
		peer <- c
	}()
	c := p.do(port.Accept(ln))
	if c.Res < 0 {
		t.Fatalf("accept: %v", c.Err())
	}
	closeOnCleanup(t, int(c.Res))
	conn := <-peer
	if conn == nil {
		t.FailNow()
	}
	t.Cleanup(func() { conn.Close() })
	return int(c.Res), conn
}

func TestAccept(t *testing.T) {
	p := openPort(t, port.Config{})
	fd, client := connPair(t, p)
	checkAccepted(t, fd)
	if got, want := peerAddr(t, fd).String(), client.LocalAddr().String(); got != want {
		t.Fatalf("accepted socket's peer %v, want the client %v", got, want)
	}
}

func TestAcceptMultishot(t *testing.T) {
	p := openPort(t, port.Config{})
	ln, addr := listenTCP(t)
	const clients = 40 // more than one round of a multishot's work
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
		peerAddr(t, int(c.Res))
	}
	p.cancelMultishot("accept", k)
}

// cancelMultishot cancels the multishot operation under k and expects its
// last completion: ECANCELED, without FlagMore.
func (p *testPort) cancelMultishot(what string, k port.Key) {
	p.t.Helper()
	if err := p.Cancel(k); err != nil {
		p.t.Fatalf("Cancel: %v", err)
	}
	c := p.waitKey(k)
	if c.More() {
		p.t.Fatalf("completion after Cancel %+v has FlagMore, want the last", c)
	}
	wantErr(p.t, "cancelled multishot "+what, c, syscall.ECANCELED)
}

func TestConnect(t *testing.T) {
	p := openPort(t, port.Config{})
	client, server := tcpPair(t, p)
	if local, peer := localAddr(t, client), peerAddr(t, server); local != peer {
		t.Fatalf("client is %v, server sees %v; want the same connection", local, peer)
	}
	peerAddr(t, client)
}

func TestConnectRefused(t *testing.T) {
	p := openPort(t, port.Config{})
	_, addr := boundSocket(t, syscall.SOCK_STREAM) // bound, never listening
	fd := newSocket(t, syscall.SOCK_STREAM)
	wantErr(t, "connect to a port nobody listens on", p.do(port.Connect(fd, addr)), syscall.ECONNREFUSED)
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

func TestRecvEOF(t *testing.T) {
	p := openPort(t, port.Config{})
	fd, peer := streamPair(t, p)
	k := p.register()
	p.submit(k, port.Recv(fd, make([]byte, 16)))
	peer.close()
	wantRes(t, "recv after the peer closed", p.waitKey(k), 0)
}

func TestRecvEOFAfterCloseOp(t *testing.T) {
	p := openPort(t, port.Config{})
	ln, addr := listenTCP(t)
	client := rawSocket(t, syscall.SOCK_STREAM) // closed below by the Close op
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
	fd, peer := streamPair(t, p)
	wantRes(t, "shutdown", p.do(port.Shutdown(fd, port.ShutWrite)), 0)
	peer.readEOF(p)
	peer.reply(p, []byte("still open"))
	buf := make([]byte, 16)
	c := p.do(port.Recv(fd, buf))
	if c.Res != 10 || string(buf[:10]) != "still open" {
		t.Fatalf("recv on the half-closed side: %d %q, want %q", c.Res, buf[:max(c.Res, 0)], "still open")
	}
}

func TestRecvMultishot(t *testing.T) {
	p := openPort(t, port.Config{Buffers: 8, BufferSize: 4096})
	fd, peer := streamPair(t, p)
	k := p.register()
	p.submit(k, port.RecvMultishot(fd))
	for i, msg := range []string{"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"} {
		peer.write([]byte(msg))
		c := p.waitKey(k)
		id, ok := c.BufferID()
		if !c.More() || !ok || string(p.Buffer(c)) != msg {
			t.Fatalf("message %d: completion %+v (%v) holds %q, want %q with FlagMore and a buffer", i, c, c.Err(), p.Buffer(c), msg)
		}
		p.RecycleBuffer(id)
	}
	p.cancelMultishot("recv", k)
}

func TestRecvMultishotEOF(t *testing.T) {
	p := openPort(t, port.Config{Buffers: 8, BufferSize: 4096})
	fd, peer := streamPair(t, p)
	k := p.register()
	p.submit(k, port.RecvMultishot(fd))
	peer.closeWrite()
	c := p.waitKey(k)
	if c.More() || c.Res != 0 {
		t.Fatalf("completion at end of stream %+v, want result 0 without FlagMore", c)
	}
}

func TestRecvMultishotRunsOutOfBuffers(t *testing.T) {
	const buffers, size = 8, 4096
	p := openPort(t, port.Config{Buffers: buffers, BufferSize: size})
	fd, peer := streamPair(t, p)
	src := pattern(buffers*size + 3*size + 100) // more than the pool holds
	sent := peer.writeAsync(src)
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
	receiveRest(t, p, k, fd, src, got, sent, multishotMayRunDry)
}

func TestRecvMultishotLongStream(t *testing.T) {
	p := openPort(t, port.Config{Buffers: 64, BufferSize: 1024})
	fd, peer := streamPair(t, p)
	src := pattern(1 << 20)
	sent := peer.writeAsync(src)
	k := p.register()
	p.submit(k, port.RecvMultishot(fd))
	// The pool may run dry between two Waits: re-arm, as a loop does.
	receiveRest(t, p, k, fd, src, nil, sent, true)
}

// receiveRest reads the rest of src (got holds what came already) through
// the multishot recv armed on k, recycling each buffer at once. A recv
// that ends with ENOBUFS is re-armed if rearm, else fails the test. Then
// it checks the bytes and the peer's write, and cancels k.
func receiveRest(t *testing.T, p *testPort, k port.Key, fd int, src, got []byte, sent <-chan error, rearm bool) {
	t.Helper()
	for len(got) < len(src) {
		c := p.waitKey(k)
		if !c.More() && rearm {
			wantErr(t, "multishot recv ending early", c, syscall.ENOBUFS)
			p.submit(k, port.RecvMultishot(fd))
			continue
		}
		id, ok := c.BufferID()
		if !c.More() || !ok || c.Res <= 0 {
			t.Fatalf("completion %+v (%v) after %d of %d bytes, want data in a buffer", c, c.Err(), len(got), len(src))
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
	fd, _ := streamPair(t, p)
	if err := p.Submit(p.register(), port.RecvMultishot(fd)); !errors.Is(err, port.ErrNoBuffers) {
		t.Fatalf("RecvMultishot without a pool: %v, want ErrNoBuffers", err)
	}
}

// Recycling a buffer twice must not put it in the pool twice: two
// receives would then share one buffer and one connection's bytes would
// show up in another's (the cross-client data bug of pooled buffers).
func TestRecycleTwiceIsIgnored(t *testing.T) {
	const buffers = 2
	p := openPort(t, port.Config{Buffers: buffers, BufferSize: 64})
	fd, peer := streamPair(t, p)
	k := p.register()
	p.submit(k, port.RecvMultishot(fd))
	peer.write([]byte("first"))
	c := p.waitKey(k)
	id, ok := c.BufferID()
	if !ok {
		t.Fatalf("completion %+v has no buffer", c)
	}
	p.RecycleBuffer(id)
	p.RecycleBuffer(id) // the bug under test
	p.RecycleBuffer(buffers + 5)
	// Hold every buffer the pool hands out: there must be exactly as
	// many distinct ones as the pool has, then ENOBUFS.
	held := map[uint16]bool{}
	for i := 0; ; i++ {
		peer.write([]byte{byte(i)})
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

// A datagram arrives whole in one buffer, and scattered across two.
func TestUDPSendMsgRecvMsg(t *testing.T) {
	for _, sizes := range [][]int{{64}, {5, 64}} {
		p := openPort(t, port.Config{})
		a, addrA := boundSocket(t, syscall.SOCK_DGRAM)
		b, addrB := boundSocket(t, syscall.SOCK_DGRAM)
		kr := p.register()
		var bufs [][]byte
		for _, n := range sizes {
			bufs = append(bufs, make([]byte, n))
		}
		in := &port.Msg{Buffers: bufs}
		p.submit(kr, port.RecvMsg(b, in))
		out := &port.Msg{Buffers: [][]byte{[]byte("hello, "), []byte("datagram")}, Addr: addrB}
		wantRes(t, "sendmsg", p.do(port.SendMsg(a, out)), 15)
		c := p.waitKey(kr)
		got := string(bytes.Join(bufs, nil)[:max(c.Res, 0)])
		if c.Res != 15 || got != "hello, datagram" {
			t.Fatalf("recvmsg into %d buffers: %d %q, want 15 %q", len(bufs), c.Res, got, "hello, datagram")
		}
		if in.Addr != addrA {
			t.Fatalf("recvmsg source %v, want %v", in.Addr, addrA)
		}
		if in.Flags&port.MsgTrunc != 0 {
			t.Fatalf("recvmsg flags %#x, want no MsgTrunc", in.Flags)
		}
	}
}

// An IPv4 sender of a datagram to a dual-stack socket is reported as
// IPv4, and a reply to that address reaches it.
func TestUDPDualStackSender(t *testing.T) {
	p := openPort(t, port.Config{})
	udp := func(at string) (int, netip.AddrPort) {
		fd, err := sock.Socket(netip.MustParseAddrPort(at), syscall.SOCK_DGRAM)
		if err != nil {
			t.Skipf("no socket for %s: %v", at, err)
		}
		t.Cleanup(func() { sock.Close(fd) })
		if err := sock.Bind(fd, netip.MustParseAddrPort(at)); err != nil {
			t.Skipf("bind %s: %v", at, err)
		}
		bound, err := port.LocalAddr(fd)
		if err != nil {
			t.Fatal(err)
		}
		return fd, bound
	}
	dual, dualAddr := udp("[::]:0")
	peer, from := udp("127.0.0.1:0")

	buf := make([]byte, 64)
	in := &port.Msg{Buffers: [][]byte{buf}}
	k := p.register()
	p.submit(k, port.RecvMsg(dual, in))
	to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), dualAddr.Port())
	wantRes(t, "sendmsg to the dual-stack socket", p.do(port.SendMsg(peer, &port.Msg{Buffers: [][]byte{[]byte("ping")}, Addr: to})), 4)
	wantRes(t, "recvmsg", p.waitKey(k), 4)
	if in.Addr != from || !in.Addr.Addr().Is4() {
		t.Fatalf("sender %v (Is4 %v), want %v as IPv4", in.Addr, in.Addr.Addr().Is4(), from)
	}

	back := &port.Msg{Buffers: [][]byte{buf}}
	p.submit(k, port.RecvMsg(peer, back))
	wantRes(t, "sendmsg back to "+in.Addr.String(), p.do(port.SendMsg(dual, &port.Msg{Buffers: [][]byte{[]byte("pong")}, Addr: in.Addr})), 4)
	if c := p.waitKey(k); c.Res != 4 || string(buf[:4]) != "pong" {
		t.Fatalf("reply: %d %q, want 4 %q", c.Res, buf[:max(c.Res, 0)], "pong")
	}
}
