package sock

import (
	"errors"
	"fmt"
	"net/netip"
)

// Addr is a socket address: an IP address and port, or a Unix socket name.
type Addr struct {
	IP   netip.AddrPort // an IP socket's address; invalid for a Unix one
	Unix bool           // an AF_UNIX address: Name holds it
	Name string         // a Unix socket's path, "@name" if abstract, "" if unnamed
}

// IPAddr is the socket address of ap.
func IPAddr(ap netip.AddrPort) Addr { return Addr{IP: ap} }

// UnixAddr is the socket address of Unix socket name.
func UnixAddr(name string) Addr { return Addr{Unix: true, Name: name} }

// String gives the IP address and port, or the Unix name.
func (a Addr) String() string {
	if a.Unix {
		return a.Name
	}
	return a.IP.String()
}

// Errors of the conversions.
var (
	ErrBadAddr     = errors.New("sock: invalid socket address")
	ErrFamily      = errors.New("sock: unsupported address family")
	ErrPathTooLong = errors.New("sock: Unix socket path too long")
	ErrUnknownZone = errors.New("sock: unknown IPv6 zone")
)

// IPAddrPort is a's IP address and port, or an error for a Unix address.
func (a Addr) IPAddrPort() (netip.AddrPort, error) {
	if a.Unix || !a.IP.IsValid() {
		return netip.AddrPort{}, fmt.Errorf("%w: %q is not an IP socket address", ErrFamily, a)
	}
	return a.IP, nil
}
