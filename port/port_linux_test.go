package port_test

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cport/cport/port"
)

// Tests that need the kernel's sockets, pipes and files.

// closeOnCleanup closes fd when the test ends.
func closeOnCleanup(t testing.TB, fd int) {
	t.Cleanup(func() { unix.Close(fd) })
}

// socketPair returns a connected pair of Unix stream sockets.
func socketPair(t testing.TB) (int, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	closeOnCleanup(t, fds[0])
	closeOnCleanup(t, fds[1])
	return fds[0], fds[1]
}

// pipe returns a pipe's read and write ends.
func pipe(t testing.TB) (int, int) {
	t.Helper()
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		t.Fatalf("pipe2: %v", err)
	}
	closeOnCleanup(t, fds[0])
	closeOnCleanup(t, fds[1])
	return fds[0], fds[1]
}

// boundSocket returns a socket of type typ bound to an ephemeral port on
// 127.0.0.1, and that address.
func boundSocket(t testing.TB, typ int) (int, netip.AddrPort) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	closeOnCleanup(t, fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	in := sa.(*unix.SockaddrInet4)
	return fd, netip.AddrPortFrom(netip.AddrFrom4(in.Addr), uint16(in.Port))
}

// listenTCP returns a listening TCP socket on 127.0.0.1 and its address.
func listenTCP(t testing.TB) (int, netip.AddrPort) {
	t.Helper()
	fd, addr := boundSocket(t, unix.SOCK_STREAM)
	if err := unix.Listen(fd, 64); err != nil {
		t.Fatalf("listen: %v", err)
	}
	return fd, addr
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
	client, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
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
	return client, server
}

// pattern returns n bytes that differ from their neighbours, so a lost,
// doubled or reordered chunk shows.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((i * 2654435761) >> 13)
	}
	return b
}

// mustWrite writes all of b to fd directly, outside the port.
func mustWrite(t testing.TB, fd int, b []byte) {
	t.Helper()
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err != nil {
			t.Fatalf("write: %v", err)
		}
		b = b[n:]
	}
}

func TestReleaseInFlight(t *testing.T) {
	p := openPort(t, port.Config{})
	a, _ := socketPair(t)
	k1 := p.register()
	p.submit(k1, port.Recv(a, make([]byte, 16)))
	if _, err := p.Wait(make([]port.Completion, 4), 0); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if err := p.Release(k1); err != nil {
		t.Fatalf("Release in flight: %v", err)
	}
	k2 := p.register()
	if k2 == k1 {
		t.Fatalf("Register while %v is in flight returned the same key", k1)
	}
	if err := p.Submit(k1, port.Nop()); !errors.Is(err, port.ErrStaleKey) {
		t.Fatalf("Submit on the released key: %v, want ErrStaleKey", err)
	}
	p.drain(k1)
	k3 := p.register()
	if k3 == k1 {
		t.Fatalf("key %v came back after its release, want a new generation", k3)
	}
	wantRes(t, "nop on the new key", p.do(port.Nop()), 0)
}

func TestSubmitBusy(t *testing.T) {
	p := openPort(t, port.Config{})
	a, _ := socketPair(t)
	k := p.register()
	p.submit(k, port.Recv(a, make([]byte, 16)))
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
	a, b := socketPair(t)
	r, _ := pipe(t)
	ln, _ := listenTCP(t)
	ops := []port.Op{
		port.Recv(a, make([]byte, 16)),
		port.RecvMultishot(b),
		port.Read(r, make([]byte, 16), -1),
		port.AcceptMultishot(ln),
		port.Poll(a, port.PollIn),
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

func TestCancelRecv(t *testing.T) {
	p := openPort(t, port.Config{})
	a, _ := socketPair(t)
	k := p.register()
	p.submit(k, port.Recv(a, make([]byte, 16)))
	if n, err := p.Wait(make([]port.Completion, 4), 0); n != 0 || err != nil {
		t.Fatalf("Wait(0) = %d, %v; want 0, nil while nothing was sent", n, err)
	}
	if err := p.Cancel(k); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	wantErr(t, "cancelled recv", p.waitKey(k), syscall.ECANCELED)
}

func TestCancelPipeRead(t *testing.T) {
	p := openPort(t, port.Config{})
	r, _ := pipe(t)
	k := p.register()
	p.submit(k, port.Read(r, make([]byte, 16), -1))
	if n, err := p.Wait(make([]port.Completion, 4), 0); n != 0 || err != nil {
		t.Fatalf("Wait(0) = %d, %v; want 0, nil on an empty pipe", n, err)
	}
	if err := p.Cancel(k); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	wantErr(t, "cancelled read", p.waitKey(k), syscall.ECANCELED)
}

func TestCancelIdleKey(t *testing.T) {
	p := openPort(t, port.Config{})
	k := p.register()
	if err := p.Cancel(k); err != nil {
		t.Fatalf("Cancel of an idle key: %v, want nil", err)
	}
	wantRes(t, "nop after the cancel", p.do(port.Nop()), 0)
}

func TestCancelFD(t *testing.T) {
	p := openPort(t, port.Config{})
	a, peerA := socketPair(t)
	b, peerB := socketPair(t)
	k1, k2, kb := p.register(), p.register(), p.register()
	p.submit(k1, port.Recv(a, make([]byte, 16)))
	p.submit(k2, port.Poll(a, port.PollIn))
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
	wantErr(t, "recv on the cancelled fd", got[k1], syscall.ECANCELED)
	wantErr(t, "poll on the cancelled fd", got[k2], syscall.ECANCELED)
	// The other fd's operation is untouched: it still receives.
	mustWrite(t, peerB, []byte("still here"))
	c := p.waitKey(kb)
	if c.Res < 0 || string(bufB[:c.Res]) != "still here" {
		t.Fatalf("recv on the other fd: %d %q, want %q", c.Res, bufB[:max(c.Res, 0)], "still here")
	}
	_ = peerA
}

func TestPipeWriteRead(t *testing.T) {
	p := openPort(t, port.Config{})
	r, w := pipe(t)
	wantRes(t, "write", p.do(port.Write(w, []byte("hello, pipe"), -1)), 11)
	buf := make([]byte, 64)
	c := p.do(port.Read(r, buf, -1))
	if c.Res != 11 || string(buf[:11]) != "hello, pipe" {
		t.Fatalf("read: %d %q, want 11 %q", c.Res, buf[:max(c.Res, 0)], "hello, pipe")
	}
}

func TestPipeReadEOF(t *testing.T) {
	p := openPort(t, port.Config{})
	r, w := pipe(t)
	k := p.register()
	p.submit(k, port.Read(r, make([]byte, 16), -1))
	wantRes(t, "close of the write end", p.do(port.Close(w)), 0)
	wantRes(t, "read at end of file", p.waitKey(k), 0)
}

func TestPipeLargeTransfer(t *testing.T) {
	p := openPort(t, port.Config{})
	r, w := pipe(t)
	src := pattern(4 << 20)
	dst := make([]byte, 0, len(src))
	chunk := make([]byte, 64<<10)
	kr, kw := p.register(), p.register()
	p.submit(kr, port.Read(r, chunk, -1))
	p.submit(kw, port.Write(w, src, -1))
	written := 0
	out := make([]port.Completion, 8)
	deadline := time.Now().Add(hangLimit)
	for len(dst) < len(src) {
		if time.Now().After(deadline) {
			t.Fatalf("moved %d of %d bytes", len(dst), len(src))
		}
		n, err := p.Wait(out, 100*time.Millisecond)
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
		for _, c := range out[:n] {
			if c.Res <= 0 {
				t.Fatalf("completion %+v (%v), want a positive count", c, c.Err())
			}
			switch c.Key {
			case kw:
				written += int(c.Res)
				if written < len(src) {
					p.submit(kw, port.Write(w, src[written:], -1))
				}
			case kr:
				dst = append(dst, chunk[:c.Res]...)
				if len(dst) < len(src) {
					p.submit(kr, port.Read(r, chunk, -1))
				}
			}
		}
	}
	if written != len(src) || !bytes.Equal(dst, src) {
		t.Fatalf("wrote %d, read %d bytes, equal %v; want %d both and equal", written, len(dst), bytes.Equal(dst, src), len(src))
	}
}

func TestFileReadWriteAtOffset(t *testing.T) {
	p := openPort(t, port.Config{})
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	wantRes(t, "write at 0", p.do(port.Write(fd, []byte("0123456789"), 0)), 10)
	wantRes(t, "write at 4", p.do(port.Write(fd, []byte("abc"), 4)), 3)
	buf := make([]byte, 8)
	c := p.do(port.Read(fd, buf, 2))
	if c.Res != 8 || string(buf) != "23abc789" {
		t.Fatalf("read at 2: %d %q, want 8 %q", c.Res, buf[:max(c.Res, 0)], "23abc789")
	}
}

func TestAccept(t *testing.T) {
	p := openPort(t, port.Config{})
	ln, addr := listenTCP(t)
	dialAsync(t, addr, 1)
	c := p.do(port.Accept(ln))
	if c.Res < 0 {
		t.Fatalf("accept: %v", c.Err())
	}
	closeOnCleanup(t, int(c.Res))
	fl, err := unix.FcntlInt(uintptr(c.Res), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK == 0 {
		t.Fatalf("accepted fd flags %#x, %v; want O_NONBLOCK", fl, err)
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
			t.Fatalf("completion %+v (%v), want a new fd with FlagMore for %v", c, c.Err(), k)
		}
		seen[c.Res] = true
		closeOnCleanup(t, int(c.Res))
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
	local, err := unix.Getsockname(client)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := unix.Getpeername(server)
	if err != nil {
		t.Fatal(err)
	}
	if l, r := local.(*unix.SockaddrInet4).Port, peer.(*unix.SockaddrInet4).Port; l != r {
		t.Fatalf("client port %d, server sees %d; want the same connection", l, r)
	}
}

func TestConnectRefused(t *testing.T) {
	p := openPort(t, port.Config{})
	ln, addr := boundSocket(t, unix.SOCK_STREAM) // bound, never listening
	_ = ln
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	closeOnCleanup(t, fd)
	wantErr(t, "connect to a port nobody listens on", p.do(port.Connect(fd, addr)), syscall.ECONNREFUSED)
}

func TestConnectUnix(t *testing.T) {
	p := openPort(t, port.Config{})
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	closeOnCleanup(t, fd)
	wantRes(t, "connect to "+path, p.do(port.ConnectUnix(fd, path)), 0)
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
	ln, addr := listenTCP(t)
	client, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
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
	a, b := socketPair(t)
	wantRes(t, "shutdown", p.do(port.Shutdown(a, port.ShutWrite)), 0)
	buf := make([]byte, 16)
	wantRes(t, "recv on the peer", p.do(port.Recv(b, buf)), 0)
	wantRes(t, "send back", p.do(port.Send(b, []byte("still open"))), 10)
	c := p.do(port.Recv(a, buf))
	if c.Res != 10 || string(buf[:10]) != "still open" {
		t.Fatalf("recv on the half-closed side: %d %q, want %q", c.Res, buf[:max(c.Res, 0)], "still open")
	}
}

func TestRecvMultishot(t *testing.T) {
	p := openPort(t, port.Config{Buffers: 8, BufferSize: 4096})
	a, b := socketPair(t)
	k := p.register()
	p.submit(k, port.RecvMultishot(a))
	for i, msg := range []string{"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"} {
		mustWrite(t, b, []byte(msg))
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

func TestRecvMultishotEOF(t *testing.T) {
	p := openPort(t, port.Config{Buffers: 8, BufferSize: 4096})
	a, b := socketPair(t)
	k := p.register()
	p.submit(k, port.RecvMultishot(a))
	if err := unix.Shutdown(b, unix.SHUT_WR); err != nil {
		t.Fatal(err)
	}
	c := p.waitKey(k)
	if c.More() || c.Res != 0 {
		t.Fatalf("completion at end of stream %+v, want result 0 without FlagMore", c)
	}
}

func TestRecvMultishotRunsOutOfBuffers(t *testing.T) {
	const buffers, size = 8, 4096
	p := openPort(t, port.Config{Buffers: buffers, BufferSize: size})
	a, b := socketPair(t)
	src := pattern(buffers*size + 3*size + 100) // more than the pool holds
	mustWrite(t, b, src)
	var got []byte
	var held []uint16
	k := p.register()
	p.submit(k, port.RecvMultishot(a))
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
	p.submit(k, port.RecvMultishot(a))
	for len(got) < len(src) {
		c := p.waitKey(k)
		id, ok := c.BufferID()
		if !c.More() || !ok {
			t.Fatalf("completion %+v (%v) after %d of %d bytes, want more data", c, c.Err(), len(got), len(src))
		}
		got = append(got, p.Buffer(c)...)
		p.RecycleBuffer(id)
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
	a, _ := socketPair(t)
	if err := p.Submit(p.register(), port.RecvMultishot(a)); !errors.Is(err, port.ErrNoBuffers) {
		t.Fatalf("RecvMultishot without a pool: %v, want ErrNoBuffers", err)
	}
}

func TestUDPSendMsgRecvMsg(t *testing.T) {
	p := openPort(t, port.Config{})
	a, addrA := boundSocket(t, unix.SOCK_DGRAM)
	b, addrB := boundSocket(t, unix.SOCK_DGRAM)
	kr := p.register()
	buf := make([]byte, 64)
	in := &port.Msg{Buffers: [][]byte{buf}}
	p.submit(kr, port.RecvMsg(b, in))
	out := &port.Msg{Buffers: [][]byte{[]byte("hello, "), []byte("datagram")}, Addr: addrB}
	wantRes(t, "sendmsg", p.do(port.SendMsg(a, out)), 15)
	c := p.waitKey(kr)
	if c.Res != 15 || string(buf[:15]) != "hello, datagram" {
		t.Fatalf("recvmsg: %d %q, want 15 %q", c.Res, buf[:max(c.Res, 0)], "hello, datagram")
	}
	if in.Addr != addrA {
		t.Fatalf("recvmsg source %v, want %v", in.Addr, addrA)
	}
	if in.Flags&unix.MSG_TRUNC != 0 {
		t.Fatalf("recvmsg flags %#x, want no MSG_TRUNC", in.Flags)
	}
}

func TestPollIn(t *testing.T) {
	p := openPort(t, port.Config{})
	a, b := socketPair(t)
	k := p.register()
	p.submit(k, port.Poll(a, port.PollIn))
	if n, err := p.Wait(make([]port.Completion, 4), 0); n != 0 || err != nil {
		t.Fatalf("Wait(0) = %d, %v; want 0, nil while nothing was sent", n, err)
	}
	mustWrite(t, b, []byte("x"))
	c := p.waitKey(k)
	if c.Res < 0 || c.Res&port.PollIn == 0 {
		t.Fatalf("poll result %#x (%v), want PollIn set", c.Res, c.Err())
	}
}

func TestPollAlreadyReady(t *testing.T) {
	p := openPort(t, port.Config{})
	a, b := socketPair(t)
	mustWrite(t, b, []byte("x"))
	c := p.do(port.Poll(a, port.PollIn|port.PollOut))
	if c.Res < 0 || c.Res&(port.PollIn|port.PollOut) != port.PollIn|port.PollOut {
		t.Fatalf("poll result %#x (%v), want PollIn|PollOut", c.Res, c.Err())
	}
}

func TestSeveralRecvsOnOneFD(t *testing.T) {
	p := openPort(t, port.Config{})
	a, b := socketPair(t)
	bufs := [][]byte{make([]byte, 4), make([]byte, 4), make([]byte, 4)}
	for _, buf := range bufs {
		p.submit(p.register(), port.Recv(a, buf))
	}
	if n, err := p.Wait(make([]port.Completion, 4), 0); n != 0 || err != nil {
		t.Fatalf("Wait(0) = %d, %v; want 0, nil while nothing was sent", n, err)
	}
	mustWrite(t, b, []byte("aaaabbbbcccc"))
	for _, c := range p.waitN(3) {
		if c.Res != 4 {
			t.Fatalf("recv %+v (%v), want 4 bytes", c, c.Err())
		}
	}
	// io_uring may run receives queued on one socket in any order (DESIGN:
	// one recv in flight per socket unless linked), so check only that
	// every byte arrived once.
	got := []string{string(bufs[0]), string(bufs[1]), string(bufs[2])}
	slices.Sort(got)
	if want := []string{"aaaa", "bbbb", "cccc"}; !slices.Equal(got, want) {
		t.Fatalf("received %q, want %q in some order", got, want)
	}
}

func TestBadFD(t *testing.T) {
	p := openPort(t, port.Config{})
	wantErr(t, "recv on a closed fd", p.do(port.Recv(1<<20, make([]byte, 4))), syscall.EBADF)
}

func TestRecvMultishotLongStream(t *testing.T) {
	p := openPort(t, port.Config{Buffers: 64, BufferSize: 1024})
	a, b := socketPair(t)
	src := pattern(1 << 20)
	sent := make(chan error, 1)
	go func() {
		_, err := unix.Write(b, src) // blocks until the port has read enough
		sent <- err
	}()
	var got []byte
	k := p.register()
	p.submit(k, port.RecvMultishot(a))
	for len(got) < len(src) {
		c := p.waitKey(k)
		if !c.More() {
			// The pool ran dry between two Waits: re-arm, as a loop does.
			wantErr(t, "multishot recv ending early", c, syscall.ENOBUFS)
			p.submit(k, port.RecvMultishot(a))
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
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, src) {
		t.Fatalf("received %d bytes, equal %v; want the %d sent, byte for byte", len(got), bytes.Equal(got, src), len(src))
	}
	if err := p.Cancel(k); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	wantErr(t, "cancelled multishot recv", p.waitKey(k), syscall.ECANCELED)
}

func TestCancelFDBeforeWait(t *testing.T) {
	p := openPort(t, port.Config{})
	a, _ := socketPair(t)
	k := p.register()
	p.submit(k, port.Recv(a, make([]byte, 16)))
	if err := p.CancelFD(a); err != nil {
		t.Fatalf("CancelFD: %v", err)
	}
	wantErr(t, "recv cancelled by fd", p.waitKey(k), syscall.ECANCELED)
}

func TestCloseDoesNotCancel(t *testing.T) {
	p := openPort(t, port.Config{})
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a := fds[0] // closed below by the Close op
	closeOnCleanup(t, fds[1])
	k := p.register()
	p.submit(k, port.Recv(a, make([]byte, 16)))
	if n, err := p.Wait(make([]port.Completion, 4), 0); n != 0 || err != nil {
		t.Fatalf("Wait(0) = %d, %v; want 0, nil while nothing was sent", n, err)
	}
	wantRes(t, "close", p.do(port.Close(a)), 0)
	if n, err := p.Wait(make([]port.Completion, 4), 0); n != 0 || err != nil {
		t.Fatalf("Wait(0) after the close = %d, %v; want 0, nil: close cancels nothing", n, err)
	}
	if n := p.InFlight(); n != 1 {
		t.Fatalf("InFlight() = %d, want the recv still in flight", n)
	}
	if err := p.Cancel(k); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	wantErr(t, "recv cancelled after its fd was closed", p.waitKey(k), syscall.ECANCELED)
}

// Recycling a buffer twice must not put it in the pool twice: two
// receives would then share one buffer and one connection's bytes would
// show up in another's (the cross-client data bug of pooled buffers).
func TestRecycleTwiceIsIgnored(t *testing.T) {
	const buffers = 2
	p := openPort(t, port.Config{Buffers: buffers, BufferSize: 64})
	a, b := socketPair(t)
	k := p.register()
	p.submit(k, port.RecvMultishot(a))
	mustWrite(t, b, []byte("first"))
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
		mustWrite(t, b, []byte{byte(i)})
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
