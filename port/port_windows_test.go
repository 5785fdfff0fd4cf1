package port_test

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/sys/windows"

	"github.com/cport/cport/internal/sock"
	"github.com/cport/cport/port"
)

// Helpers for the Windows tests: sockets from internal/sock, peers from
// Go's net package (its own completion port), overlapped pipes and files.

// closeOnCleanup closes socket or handle fd when the test ends.
func closeOnCleanup(t testing.TB, fd int) {
	t.Cleanup(func() {
		if sock.Close(fd) != nil {
			windows.CloseHandle(windows.Handle(fd))
		}
	})
}

var loopback = netip.MustParseAddrPort("127.0.0.1:0")

// listenTCP returns a listening TCP socket on 127.0.0.1 and its address.
func listenTCP(t testing.TB) (int, netip.AddrPort) {
	t.Helper()
	fd, err := sock.ListenTCP(loopback, sock.ListenConfig{})
	if err != nil {
		t.Fatalf("ListenTCP: %v", err)
	}
	closeOnCleanup(t, fd)
	addr, err := sock.LocalAddr(fd)
	if err != nil {
		t.Fatalf("LocalAddr: %v", err)
	}
	return fd, addr
}

// boundSocket returns a socket of type typ bound to an ephemeral port on
// 127.0.0.1, and that address.
func boundSocket(t testing.TB, typ int) (int, netip.AddrPort) {
	t.Helper()
	fd := newSocket(t, typ)
	if err := sock.Bind(fd, loopback); err != nil {
		t.Fatalf("Bind: %v", err)
	}
	addr, err := sock.LocalAddr(fd)
	if err != nil {
		t.Fatalf("LocalAddr: %v", err)
	}
	return fd, addr
}

// newSocket returns an unbound IPv4 socket of type typ.
func newSocket(t testing.TB, typ int) int {
	t.Helper()
	fd, err := sock.Socket(loopback, typ)
	if err != nil {
		t.Fatalf("Socket: %v", err)
	}
	closeOnCleanup(t, fd)
	return fd
}

var pipeSeq atomic.Int64

// pipe returns the read and write ends of a new overlapped byte-mode
// named pipe (anonymous pipes cannot do overlapped I/O), both closed when
// the test ends.
func pipe(t testing.TB) (int, int) {
	t.Helper()
	r, w := pipeOwnWriter(t)
	closeOnCleanup(t, w)
	return r, w
}

// pipeOwnWriter returns a pipe whose read end is closed when the test ends
// and whose write end the test closes itself. Closing it again at cleanup
// would close whatever took the handle value meanwhile, such as one of the
// runtime's own event or thread handles.
func pipeOwnWriter(t testing.TB) (int, int) {
	t.Helper()
	name, _ := windows.UTF16PtrFromString(fmt.Sprintf(`\\.\pipe\cport-test-%d-%d`, os.Getpid(), pipeSeq.Add(1)))
	r, err := windows.CreateNamedPipe(name,
		windows.PIPE_ACCESS_INBOUND|windows.FILE_FLAG_OVERLAPPED|windows.FILE_FLAG_FIRST_PIPE_INSTANCE,
		windows.PIPE_TYPE_BYTE|windows.PIPE_READMODE_BYTE|windows.PIPE_WAIT, 1, 64<<10, 64<<10, 0, nil)
	if err != nil {
		t.Fatalf("CreateNamedPipe: %v", err)
	}
	closeOnCleanup(t, int(r))
	w, err := windows.CreateFile(name, windows.GENERIC_WRITE, 0, nil, windows.OPEN_EXISTING, windows.FILE_FLAG_OVERLAPPED, 0)
	if err != nil {
		t.Fatalf("CreateFile(pipe): %v", err)
	}
	return int(r), int(w)
}

// overlappedFile creates an empty file for overlapped I/O. It does not
// use t.TempDir: Go's RemoveAll fails on Wine 8 ("Invalid function", its
// delete-on-close call is missing), while a plain Remove works.
func overlappedFile(t testing.TB) int {
	t.Helper()
	dir, err := os.MkdirTemp("", "cport-test-")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "f")
	name, _ := windows.UTF16PtrFromString(path)
	h, err := windows.CreateFile(name, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, nil,
		windows.CREATE_ALWAYS, windows.FILE_FLAG_OVERLAPPED, 0)
	if err != nil {
		os.Remove(dir)
		t.Fatalf("CreateFile: %v", err)
	}
	t.Cleanup(func() {
		windows.CloseHandle(h)
		os.Remove(path)
		os.Remove(dir)
	})
	return int(h)
}

func TestBackendIsIOCP(t *testing.T) {
	p := openPort(t, port.Config{})
	if got := p.Backend(); got != "iocp" {
		t.Fatalf("Backend() = %q, want iocp", got)
	}
	for _, name := range []string{"uring", "epoll"} {
		_, err := port.Open(port.Config{Backend: name})
		if err == nil {
			t.Fatalf("Open(Backend: %q) succeeded on Windows, want an error", name)
		}
		t.Logf("Open(Backend: %q): %v", name, err)
	}
}

func TestPollUnsupported(t *testing.T) {
	p := openPort(t, port.Config{})
	fd, _ := boundSocket(t, syscall.SOCK_DGRAM)
	k := p.register()
	if err := p.Submit(k, port.Poll(fd, port.PollIn)); !errors.Is(err, port.ErrUnsupported) {
		t.Fatalf("Submit(Poll): %v, want ErrUnsupported", err)
	}
	wantRes(t, "nop on the same key after the refused poll", p.do(port.Nop()), 0)
}

func TestBadHandle(t *testing.T) {
	p := openPort(t, port.Config{})
	wantErr(t, "recv on a handle that does not exist", p.do(port.Recv(1<<20, make([]byte, 4))), syscall.EBADF)
}
