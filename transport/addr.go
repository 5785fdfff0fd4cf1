//go:build linux || windows

package transport

import (
	"net"

	"github.com/cport/cport/internal/sock"
)

// localAddr is the address socket fd is bound to, as net's types.
func localAddr(fd int, network string) net.Addr {
	a, err := sock.LocalSocketAddr(fd)
	if err != nil {
		return nil
	}
	return toNetAddr(a, network)
}

// remoteAddr is the peer's address, as net's types. On Windows an
// accepted socket has one only after SO_UPDATE_ACCEPT_CONTEXT, which the
// port sets when AcceptEx completes.
func remoteAddr(fd int, network string) net.Addr {
	a, err := sock.PeerSocketAddr(fd)
	if err != nil {
		return nil
	}
	return toNetAddr(a, network)
}

// toNetAddr gives a the net type of its network; sock has made it what
// net would report (an IPv4 peer of a dual-stack socket is IPv4, a zone
// is an interface name).
func toNetAddr(a sock.Addr, network string) net.Addr {
	switch {
	case a.Unix:
		return &net.UnixAddr{Name: a.Name, Net: "unix"}
	case network == "udp":
		return net.UDPAddrFromAddrPort(a.IP)
	default:
		return net.TCPAddrFromAddrPort(a.IP)
	}
}
