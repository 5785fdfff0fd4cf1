package transport

import (
	"net"

	"github.com/cport/cport/internal/sock"
)

// localAddr is the address socket fd is bound to, as net's types. On
// Windows the only sockets cport makes are TCP and UDP (no AF_UNIX), so an
// address is always an IP and a port.
func localAddr(fd int, network string) net.Addr {
	ap, err := sock.LocalAddr(fd)
	if err != nil {
		return nil
	}
	if network == "udp" {
		return net.UDPAddrFromAddrPort(ap)
	}
	return net.TCPAddrFromAddrPort(ap)
}

// remoteAddr is the peer's address, as net's types. An accepted socket has
// one only after SO_UPDATE_ACCEPT_CONTEXT, which the port sets when
// AcceptEx completes.
func remoteAddr(fd int, network string) net.Addr {
	ap, err := sock.PeerAddr(fd)
	if err != nil {
		return nil
	}
	if network == "udp" {
		return net.UDPAddrFromAddrPort(ap)
	}
	return net.TCPAddrFromAddrPort(ap)
}
