package port_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

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

// pipe returns a pipe's read and write ends, both closed when the test
// ends.
func pipe(t testing.TB) (int, int) {
	t.Helper()
	r, w := pipeOwnWriter(t)
	closeOnCleanup(t, w)
	return r, w
}

// pipeOwnWriter returns a pipe whose read end is closed when the test ends
// and whose write end the test closes itself: closing it again at cleanup
// could close a descriptor that has been reused meanwhile.
func pipeOwnWriter(t testing.TB) (int, int) {
	t.Helper()
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		t.Fatalf("pipe2: %v", err)
	}
	closeOnCleanup(t, fds[0])
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

func TestCancelIdleKey(t *testing.T) {
	p := openPort(t, port.Config{})
	k := p.register()
	if err := p.Cancel(k); err != nil {
		t.Fatalf("Cancel of an idle key: %v, want nil", err)
	}
	wantRes(t, "nop after the cancel", p.do(port.Nop()), 0)
}

// A path and an abstract name: the abstract one is written without a
// trailing NUL, as net binds it, or the connect finds no listener.
func TestConnectUnix(t *testing.T) {
	for _, name := range []string{
		filepath.Join(t.TempDir(), "s"),
		fmt.Sprintf("@cport-port-test-%d", os.Getpid()),
	} {
		p := openPort(t, port.Config{})
		ln, err := net.Listen("unix", name)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		closeOnCleanup(t, fd)
		wantRes(t, "connect to "+name, p.do(port.ConnectUnix(fd, name)), 0)
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

// A multishot receive with a byte limit ends, with its last completion
// carrying data and no FlagMore, once the limit is reached, however much
// more the socket holds; a resubmission reads on, and nothing is lost.
func TestRecvMultishotLimit(t *testing.T) {
	const size, limit = 1024, 4096
	p := openPort(t, port.Config{Buffers: 64, BufferSize: size})
	fd, peer := streamPair(t, p)
	src := pattern(32 << 10)
	sent := peer.writeAsync(src)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	k := p.register()
	p.submit(k, port.RecvMultishotLimit(fd, limit))
	var got []byte
	for {
		c := p.waitKey(k)
		id, ok := c.BufferID()
		if !ok || c.Res <= 0 {
			t.Fatalf("completion %+v (%v) after %d bytes, want data in a buffer", c, c.Err(), len(got))
		}
		got = append(got, p.Buffer(c)...)
		p.RecycleBuffer(id)
		if !c.More() {
			break
		}
	}
	if len(got) < limit || len(got) >= limit+size {
		t.Fatalf("the limited receive took %d bytes, want %d up to one %d-byte buffer more", len(got), limit, size)
	}
	done := make(chan error, 1)
	done <- nil
	p.submit(k, port.RecvMultishot(fd))
	receiveRest(t, p, k, fd, src, got, done, true)
}
