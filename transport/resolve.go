package transport

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// resolveListen turns a listen address into the one to bind: a literal
// or resolved IP, or the unspecified address of the network's family.
func resolveListen(network, address string) (netip.AddrPort, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	portNum, err := net.LookupPort(network, portStr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if host == "" {
		if network == "tcp4" || network == "udp4" {
			return netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(portNum)), nil
		}
		return netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(portNum)), nil
	}
	addrs, err := resolveHost(context.Background(), network, host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(addrs[0], uint16(portNum)), nil
}

// resolveDial resolves a dial address to candidates in the resolver's order.
// It may block on DNS, so it runs off the loop.
func resolveDial(ctx context.Context, network, address string) ([]netip.AddrPort, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	portNum, err := strconv.Atoi(portStr)
	if err != nil {
		if portNum, err = net.DefaultResolver.LookupPort(ctx, network, portStr); err != nil {
			return nil, err
		}
	}
	if portNum < 0 || portNum > 65535 {
		return nil, fmt.Errorf("invalid port %d", portNum)
	}
	if host == "" {
		host = "localhost"
	}
	addrs, err := resolveHost(ctx, network, host)
	if err != nil {
		return nil, err
	}
	out := make([]netip.AddrPort, len(addrs))
	for i, a := range addrs {
		out[i] = netip.AddrPortFrom(a, uint16(portNum))
	}
	return out, nil
}

// resolveHost returns host's addresses of the network's family; a literal
// address needs no resolver.
func resolveHost(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	family := "ip"
	switch network {
	case "tcp4", "udp4":
		family = "ip4"
	case "tcp6", "udp6":
		family = "ip6"
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, family, host)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	return addrs, nil
}
