package sock

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cport/cport/internal/streamtest"
)

// The kernel's own addresses through getsockname and getpeername: the
// cases the table can only describe.

func TestPeerOfDualStackSocketIsIPv4(t *testing.T) {
	ln, err := ListenTCP(netip.MustParseAddrPort("[::]:0"), ListenConfig{})
	if err != nil {
		t.Skipf("no IPv6 listener: %v", err)
	}
	defer Close(ln)
	bound, err := LocalAddr(ln)
	if err != nil {
		t.Fatal(err)
	}
	c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(c)
	if err := unix.Connect(c, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: int(bound.Port())}); err != nil {
		t.Fatalf("connect: %v", err)
	}
	a, _, err := unix.Accept4(ln, unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	defer unix.Close(a)
	client, err := LocalAddr(c)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := PeerAddr(a)
	if err != nil {
		t.Fatal(err)
	}
	if peer != client || !peer.Addr().Is4() {
		t.Errorf("peer of the dual-stack socket = %v (Is4 %v), want %v as IPv4", peer, peer.Addr().Is4(), client)
	}
	if got, want := net.TCPAddrFromAddrPort(peer).String(), client.String(); got != want {
		t.Errorf("as net.TCPAddr: %s, want %s", got, want)
	}
}

func TestUnixNames(t *testing.T) {
	for _, name := range []string{
		filepath.Join(t.TempDir(), "s"),
		fmt.Sprintf("@cport-sock-test-%d", os.Getpid()),
	} {
		ln, err := ListenUnix(name, ListenConfig{})
		if err != nil {
			t.Fatalf("listen %q: %v", name, err)
		}
		if got, err := LocalSocketAddr(ln); err != nil || got != UnixAddr(name) {
			t.Errorf("listener's address = %#v, %v; want %q", got, err, name)
		}
		c, err := UnixSocket(unix.SOCK_STREAM)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Connect(c, &unix.SockaddrUnix{Name: name}); err != nil {
			t.Fatalf("connect to %q: %v", name, err)
		}
		a, _, err := unix.Accept4(ln, unix.SOCK_CLOEXEC)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := PeerSocketAddr(c); err != nil || got != UnixAddr(name) {
			t.Errorf("client's peer = %#v, %v; want %q", got, err, name)
		}
		// The client never bound: it is unnamed, which is not "@".
		if got, err := PeerSocketAddr(a); err != nil || got != UnixAddr("") {
			t.Errorf("accepted socket's peer = %#v, %v; want the unnamed address", got, err)
		}
		for _, fd := range []int{a, c, ln} {
			Close(fd)
		}
	}
}

func TestLinkLocalZone(t *testing.T) {
	ifs, _ := net.Interfaces()
	for _, ifc := range ifs {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || !ipn.IP.IsLinkLocalUnicast() || ipn.IP.To4() != nil {
				continue
			}
			ip, _ := netip.AddrFromSlice(ipn.IP)
			want := netip.AddrPortFrom(ip.WithZone(ifc.Name), 0)
			fd, err := Socket(want, unix.SOCK_DGRAM)
			if err != nil {
				t.Fatal(err)
			}
			defer Close(fd)
			if err := Bind(fd, want); err != nil {
				t.Fatalf("bind %v: %v", want, err)
			}
			got, err := LocalAddr(fd)
			if err != nil {
				t.Fatal(err)
			}
			if got.Addr() != want.Addr() {
				t.Errorf("bound to %v, getsockname says %v", want, got)
			}
			return
		}
	}
	t.Skip("no interface with an IPv6 link-local address")
}

// A peer that reset the connection is still named: getpeername fails
// then (ENOTCONN), and a connection whose address no one asked before
// the reset would have none to report or log.
func TestPeerOfResetSocket(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			host := "127.0.0.1:0"
			if network == "tcp6" {
				host = "[::1]:0"
			}
			ln, err := net.Listen(network, host)
			if err != nil {
				t.Skipf("no %s listener: %v", network, err)
			}
			defer ln.Close()
			accepted, want, err := streamtest.AcceptReset(ln)
			if err != nil {
				t.Fatal(err)
			}
			defer accepted.Close()
			f, err := accepted.(*net.TCPConn).File()
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := unix.Getpeername(int(f.Fd())); err != unix.ENOTCONN {
				t.Logf("getpeername after the reset: %v (this kernel still answers it)", err)
			}
			// The kept name itself, whether or not getpeername needed it.
			kept, err := keptPeerName(int(f.Fd()))
			if err != nil || kept.IP.String() != want {
				t.Errorf("SO_PEERNAME after the reset: %v, %v; want %s", kept.IP, err, want)
			}
			peer, err := PeerSocketAddr(int(f.Fd()))
			if err != nil {
				t.Fatalf("the peer's address after its reset: %v", err)
			}
			if got := peer.IP.String(); got != want {
				t.Errorf("the peer's address after its reset: %s, want %s", got, want)
			}
		})
	}
}

// A socket that never connected has no peer, kept or not.
func TestUnconnectedSocketHasNoPeer(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if a, err := PeerSocketAddr(fd); err == nil {
		t.Errorf("an unconnected socket's peer: %v, want an error", a)
	}
}
