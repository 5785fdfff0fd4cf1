//go:build linux || windows

package transport

import (
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/cport/cport/loop"
)

// An IPv4 client of a dual-stack listener is an IPv4 address to the
// protocol, as net reports it: it prints as a.b.c.d:port and To4 is
// non-nil.
func TestRemoteAddrOfIPv4ClientOfDualStackListener(t *testing.T) {
	g := startGroup(t, 1, loop.Config{})
	seen, made := make(chan net.Addr, 1), make(chan Transport, 1)
	ln, err := Listen(g, "tcp", "[::]:0", func() Protocol { return &addrRecorder{made: made, seen: seen} })
	if err != nil {
		t.Skipf("no IPv6 listener: %v", err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	c := dialNet(t, "tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	defer c.Close()
	tr := <-made
	ra, ok := tr.RemoteAddr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("RemoteAddr = %#v, want a *net.TCPAddr", tr.RemoteAddr())
	}
	if want := c.LocalAddr().String(); ra.String() != want || ra.IP.To4() == nil {
		t.Errorf("RemoteAddr = %s (IP % x), want %s as IPv4", ra, ra.IP, want)
	}
}

// A Unix connection's local address is the listener's path; its peer,
// which never bound, is unnamed.
func TestUnixConnectionAddrs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("cport has Unix sockets on Linux only")
	}
	g := startGroup(t, 1, loop.Config{})
	seen, made := make(chan net.Addr, 1), make(chan Transport, 1)
	path := filepath.Join(t.TempDir(), "s")
	ln, err := Listen(g, "unix", path, func() Protocol { return &addrRecorder{made: made, seen: seen} })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := dialNet(t, "unix", path)
	defer c.Close()
	tr := <-made
	if la, ok := tr.LocalAddr().(*net.UnixAddr); !ok || la.Name != path {
		t.Errorf("LocalAddr = %#v, want %q", tr.LocalAddr(), path)
	}
	if ra, ok := tr.RemoteAddr().(*net.UnixAddr); !ok || ra.Name != "" {
		t.Errorf("RemoteAddr = %#v, want the unnamed Unix address", tr.RemoteAddr())
	}
}
