package flow_test

import (
	"errors"
	"net"
	"testing"

	"golang.org/x/sys/windows"
)

// skipIfNoGoUDP skips a test whose peer is a Go net UDP socket where Go
// cannot make one: Go's net sets SIO_UDP_CONNRESET on every Windows UDP
// socket and fails if the ioctl does, which Wine's does (WSAEOPNOTSUPP).
// cport's UDP itself is tested under Wine by transport's TestUDPPacketPeer.
func skipIfNoGoUDP(t testing.TB) {
	t.Helper()
	c, err := net.Dial("udp", "127.0.0.1:9")
	if errors.Is(err, windows.WSAEOPNOTSUPP) {
		t.Skipf("Go's net cannot open a UDP socket here (%v): its SIO_UDP_CONNRESET ioctl is unsupported (Wine)", err)
	}
	if err == nil {
		c.Close()
	}
}
