package transport

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/cport/cport/loop"
)

// udpCollector hands each datagram it receives, copied, to a channel.
type udpCollector struct {
	got  chan []byte
	lost chan error
}

func (u *udpCollector) ConnectionMade(*PacketTransport) {}
func (u *udpCollector) DatagramReceived(d []byte, from netip.AddrPort) {
	u.got <- bytes.Clone(d)
}
func (u *udpCollector) ErrorReceived(error)      {}
func (u *udpCollector) ConnectionLost(err error) { u.lost <- err }

// UDP echo with a PacketTransport on both ends, on two loops: cport's
// datagram path alone, without Go's net as the peer (which cannot open
// UDP sockets under Wine, see skipIfNoGoUDP).
func TestUDPPacketPeer(t *testing.T) {
	g := startGroup(t, 2, loop.Config{})
	srv := &udpEcho{lost: make(chan error, 1)}
	pt, err := ListenPacket(g.Loops()[0], "udp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	cli := &udpCollector{got: make(chan []byte, 1), lost: make(chan error, 1)}
	ct, err := ListenPacket(g.Loops()[1], "udp", "127.0.0.1:0", cli)
	if err != nil {
		t.Fatal(err)
	}
	to := pt.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort()
	from := ct.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort()
	if !to.Addr().IsLoopback() || to.Port() == 0 || from.Port() == 0 {
		t.Fatalf("LocalAddr: server %v, client %v; want bound loopback addresses", to, from)
	}
	for _, size := range []int{0, 1, 512, 1400, 9000, 65507} {
		msg := bytes.Repeat([]byte{byte(size)}, size)
		if err := ct.SendTo(msg, to); err != nil {
			t.Fatalf("size %d: SendTo: %v", size, err)
		}
		select {
		case got := <-cli.got:
			if !bytes.Equal(got, msg) {
				t.Fatalf("size %d: got %d bytes back, not the same", size, len(got))
			}
		case <-time.After(hangGuard):
			t.Fatalf("size %d: no echo", size)
		}
	}
	for _, tr := range []struct {
		pt   *PacketTransport
		lost chan error
	}{{ct, cli.lost}, {pt, srv.lost}} {
		tr.pt.Close()
		select {
		case err := <-tr.lost:
			if err != nil {
				t.Errorf("ConnectionLost(%v), want nil", err)
			}
		case <-time.After(hangGuard):
			t.Fatal("ConnectionLost never came")
		}
	}
}

// A datagram to a port nobody listens on draws an ICMP port unreachable,
// which Linux reports on a connected socket only and Windows on any
// (WSAECONNRESET): either way the socket stays open and keeps working.
func TestUDPSurvivesUnreachablePeer(t *testing.T) {
	g := startGroup(t, 1, loop.Config{})
	srv := &udpEcho{lost: make(chan error, 1)}
	pt, err := ListenPacket(g.Loops()[0], "udp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer pt.Close()
	gone := &udpCollector{got: make(chan []byte, 1), lost: make(chan error, 1)}
	gt, err := ListenPacket(g.Loops()[0], "udp", "127.0.0.1:0", gone)
	if err != nil {
		t.Fatal(err)
	}
	dead := gt.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort()
	gt.Close()
	<-gone.lost
	cli := &udpCollector{got: make(chan []byte, 1), lost: make(chan error, 1)}
	ct, err := ListenPacket(g.Loops()[0], "udp", "127.0.0.1:0", cli)
	if err != nil {
		t.Fatal(err)
	}
	defer ct.Close()
	to := pt.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort()
	for i := range 3 {
		if err := ct.SendTo([]byte("void"), dead); err != nil {
			t.Fatalf("SendTo a closed port: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // let the ICMP error arrive
		msg := []byte{byte(i)}
		if err := ct.SendTo(msg, to); err != nil {
			t.Fatalf("round %d: SendTo after the unreachable peer: %v", i, err)
		}
		select {
		case got := <-cli.got:
			if !bytes.Equal(got, msg) {
				t.Fatalf("round %d: got %v, want %v", i, got, msg)
			}
		case err := <-cli.lost:
			t.Fatalf("round %d: the socket was closed: %v", i, err)
		case <-time.After(hangGuard):
			t.Fatalf("round %d: no echo", i)
		}
	}
}
