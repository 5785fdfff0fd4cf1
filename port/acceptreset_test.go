//go:build linux || windows

package port_test

import (
	"net"
	"testing"

	"github.com/cport/cport/internal/sock"
	"github.com/cport/cport/port"
)

// A client that connects and resets before it is accepted costs the
// listener nothing: a multishot accept goes on to the next client. Linux
// hands the reset connection over (its first read reports the reset);
// Windows ends the AcceptEx that meets it with ERROR_NETNAME_DELETED, and
// Wine with ERROR_UNEXP_NET_ERR, neither of which may end the multishot.
func TestAcceptMultishotAfterClientReset(t *testing.T) {
	p := openPort(t, port.Config{})
	ln, addr := listenTCP(t)
	// Both clients wait in the backlog before the accept starts, the
	// reset one first.
	reset, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	reset.(*net.TCPConn).SetLinger(0)
	reset.Close()
	good, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	want := good.LocalAddr().String()

	k := p.register()
	p.submit(k, port.AcceptMultishot(ln))
	for {
		c := p.waitKey(k)
		if c.Res < 0 || !c.More() {
			t.Fatalf("completion %+v (%v) before the client after the reset one was accepted; want new sockets with FlagMore", c, c.Err())
		}
		closeOnCleanup(t, int(c.Res))
		// The reset client's socket may have no peer any more.
		if a, err := sock.PeerSocketAddr(int(c.Res)); err == nil && a.IP.String() == want {
			break
		}
	}
	p.cancelMultishot("accept", k)
}
