//go:build linux || windows

package sock

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"syscall"
)

// This file is the one place where cport turns socket addresses into the
// system's byte layout and back. Linux and Windows share the layout of
// sockaddr_in, sockaddr_in6 and sockaddr_un (only AF_INET6's value
// differs, and syscall gives each platform its own), so one encoder and
// one decoder serve the port's connect and message operations, binding,
// getsockname and getpeername on both.
//
// Choices, made to match what Go's net package reports:
//
//   - An IPv4 address is IPv4 whatever its form: 1.2.3.4 and
//     ::ffff:1.2.3.4 are both written as sockaddr_in (Socket makes an
//     AF_INET socket for either), and a v4-mapped sockaddr_in6 — an IPv4
//     peer of a dual-stack socket — reads back as 1.2.3.4, which net
//     prints for it too.
//   - An IPv6 zone is an interface: its name (or its index written in
//     decimal) becomes the scope id, and a scope id reads back as the
//     interface's name, or the decimal index when no interface has it.
//   - A Unix name starting with '@' is in Linux's abstract namespace: the
//     '@' is written as a NUL and the length counts no trailing NUL, as
//     x/sys and net do. The empty name is an unnamed socket (the address
//     is the family alone), distinct from "@", the abstract empty name.

// Layout of the three address kinds: the family is a native-endian
// uint16 at offset 0, the port big-endian right after it.
const (
	inet4Len    = 16  // sizeof(struct sockaddr_in)
	inet6Len    = 28  // sizeof(struct sockaddr_in6)
	unixPathOff = 2   // offsetof(struct sockaddr_un, sun_path)
	unixPathLen = 108 // sizeof(sun_path), on Linux and Windows alike

	// SockaddrLen is the room the largest address needs.
	SockaddrLen = unixPathOff + unixPathLen
)

// PutSockaddr writes a at the start of b in the system's layout and
// returns its length. b must hold SockaddrLen bytes; what follows the
// address is zeroed.
func PutSockaddr(b []byte, a Addr) (int, error) {
	if len(b) < SockaddrLen {
		return 0, fmt.Errorf("sock: %d bytes is too small for a socket address", len(b))
	}
	clear(b)
	if a.Unix {
		return putUnix(b, a.Name)
	}
	if !a.IP.IsValid() {
		return 0, ErrBadAddr
	}
	ip, port := a.IP.Addr(), a.IP.Port()
	if ip4 := ip.Unmap(); ip4.Is4() {
		binary.NativeEndian.PutUint16(b, syscall.AF_INET)
		binary.BigEndian.PutUint16(b[2:], port)
		v := ip4.As4()
		copy(b[4:8], v[:])
		return inet4Len, nil
	}
	scope, err := zoneScope(ip.Zone())
	if err != nil {
		return 0, err
	}
	binary.NativeEndian.PutUint16(b, syscall.AF_INET6)
	binary.BigEndian.PutUint16(b[2:], port)
	v := ip.As16()
	copy(b[8:24], v[:])
	binary.NativeEndian.PutUint32(b[24:], scope)
	return inet6Len, nil
}

func putUnix(b []byte, name string) (int, error) {
	binary.NativeEndian.PutUint16(b, syscall.AF_UNIX)
	if name == "" {
		return unixPathOff, nil
	}
	path := b[unixPathOff : unixPathOff+unixPathLen]
	if name[0] == '@' {
		if len(name) > unixPathLen {
			return 0, fmt.Errorf("%w: %q", ErrPathTooLong, name)
		}
		copy(path[1:], name[1:])
		return unixPathOff + len(name), nil
	}
	// A path ends at its NUL, or at the end of sun_path when it fills
	// it: Linux takes (and getsockname returns) such a path without one.
	if len(name) > unixPathLen {
		return 0, fmt.Errorf("%w: %q", ErrPathTooLong, name)
	}
	for i := 0; i < len(name); i++ {
		if name[i] == 0 {
			return 0, fmt.Errorf("%w: NUL in Unix socket path %q", ErrBadAddr, name)
		}
	}
	copy(path, name)
	return unixPathOff + min(len(name)+1, unixPathLen), nil
}

// ParseSockaddr reads the address the system wrote into b; len(b) is the
// length it reported.
func ParseSockaddr(b []byte) (Addr, error) {
	if len(b) < 2 {
		return Addr{}, ErrBadAddr
	}
	switch family := binary.NativeEndian.Uint16(b); family {
	case syscall.AF_INET:
		if len(b) < 8 {
			return Addr{}, ErrBadAddr
		}
		ip := netip.AddrFrom4([4]byte(b[4:8]))
		return IPAddr(netip.AddrPortFrom(ip, binary.BigEndian.Uint16(b[2:]))), nil
	case syscall.AF_INET6:
		if len(b) < 24 {
			return Addr{}, ErrBadAddr
		}
		ip := netip.AddrFrom16([16]byte(b[8:24]))
		if ip.Is4In6() {
			ip = ip.Unmap()
		} else if len(b) >= inet6Len {
			ip = ip.WithZone(scopeZone(binary.NativeEndian.Uint32(b[24:])))
		}
		return IPAddr(netip.AddrPortFrom(ip, binary.BigEndian.Uint16(b[2:]))), nil
	case syscall.AF_UNIX:
		path := b[unixPathOff:min(len(b), unixPathOff+unixPathLen)]
		switch {
		case len(path) == 0:
			return UnixAddr(""), nil
		case path[0] == 0:
			// Abstract: the length says where the name ends; NULs in it
			// are part of it.
			return UnixAddr("@" + string(path[1:])), nil
		}
		n := 0
		for n < len(path) && path[n] != 0 {
			n++
		}
		return UnixAddr(string(path[:n])), nil
	default:
		return Addr{}, fmt.Errorf("%w: %d", ErrFamily, family)
	}
}

// LocalAddr is the IP address and port socket fd is bound to.
func LocalAddr(fd int) (netip.AddrPort, error) {
	a, err := LocalSocketAddr(fd)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return a.IPAddrPort()
}

// PeerAddr is the IP address and port of the peer connected to socket fd.
func PeerAddr(fd int) (netip.AddrPort, error) {
	a, err := PeerSocketAddr(fd)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return a.IPAddrPort()
}
