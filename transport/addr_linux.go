package transport

import (
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// localAddr is the address socket fd is bound to, as net's types.
func localAddr(fd int, network string) net.Addr {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil
	}
	return toNetAddr(sa, network)
}

// remoteAddr is the peer's address, as net's types.
func remoteAddr(fd int, network string) net.Addr {
	sa, err := unix.Getpeername(fd)
	if err != nil {
		return nil
	}
	return toNetAddr(sa, network)
}

func toNetAddr(sa unix.Sockaddr, network string) net.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		ap := netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
		if network == "udp" {
			return net.UDPAddrFromAddrPort(ap)
		}
		return net.TCPAddrFromAddrPort(ap)
	case *unix.SockaddrInet6:
		ap := netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
		if network == "udp" {
			return net.UDPAddrFromAddrPort(ap)
		}
		return net.TCPAddrFromAddrPort(ap)
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: a.Name, Net: "unix"}
	}
	return nil
}
