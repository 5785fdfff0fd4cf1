//go:build linux || windows

package sock

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"testing"
)

// The test writes the expected bytes itself, field by field, from the
// layouts in <netinet/in.h> and <sys/un.h>, so it checks the encoder
// against the system's definition rather than against itself.

func wireInet4(ip string, port uint16) []byte {
	b := make([]byte, 16)
	binary.NativeEndian.PutUint16(b, syscall.AF_INET)
	binary.BigEndian.PutUint16(b[2:], port)
	a := netip.MustParseAddr(ip).As4()
	copy(b[4:], a[:])
	return b
}

func wireInet6(ip string, port uint16, scope uint32) []byte {
	b := make([]byte, 28)
	binary.NativeEndian.PutUint16(b, syscall.AF_INET6)
	binary.BigEndian.PutUint16(b[2:], port)
	a := netip.MustParseAddr(ip).As16()
	copy(b[8:], a[:])
	binary.NativeEndian.PutUint32(b[24:], scope)
	return b
}

// wireUnix is the family and raw, the bytes of sun_path the length covers.
func wireUnix(raw string) []byte {
	b := make([]byte, 2+len(raw))
	binary.NativeEndian.PutUint16(b, syscall.AF_UNIX)
	copy(b[2:], raw)
	return b
}

// describe shows an Addr in a failure message.
func describe(a Addr) string {
	if a.Unix {
		return fmt.Sprintf("Unix %q", a.Name)
	}
	return fmt.Sprintf("%v (Is4 %v, zone %q)", a.IP, a.IP.Addr().Is4(), a.IP.Addr().Zone())
}

// someInterface is an interface of this machine, for zone rows.
func someInterface(t *testing.T) net.Interface {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil || len(ifs) == 0 {
		t.Skipf("no network interfaces to name zones after: %v", err)
	}
	return ifs[0]
}

// unusedIndex is an interface index no interface has.
func unusedIndex(t *testing.T) uint32 {
	t.Helper()
	ifs, _ := net.Interfaces()
	idx := uint32(1 << 30)
	for _, ifc := range ifs {
		if uint32(ifc.Index) >= idx {
			idx = uint32(ifc.Index) + 1
		}
	}
	return idx
}

func TestSockaddrTable(t *testing.T) {
	ifc := someInterface(t)
	idx, name := uint32(ifc.Index), ifc.Name
	gone := unusedIndex(t)
	ip := func(s string) Addr { return IPAddr(netip.MustParseAddrPort(s)) }

	tests := []struct {
		name string
		in   Addr   // what PutSockaddr is given; a zero Addr: the row only decodes
		wire []byte // what the system sees
		back Addr   // what ParseSockaddr makes of wire

		rewire []byte // what back encodes to, if not wire
	}{
		{"IPv4", ip("192.0.2.1:80"), wireInet4("192.0.2.1", 80), ip("192.0.2.1:80"), nil},
		{"IPv4 any", ip("0.0.0.0:0"), wireInet4("0.0.0.0", 0), ip("0.0.0.0:0"), nil},
		{"IPv4-mapped is IPv4", ip("[::ffff:192.0.2.1]:80"), wireInet4("192.0.2.1", 80), ip("192.0.2.1:80"), nil},
		{"v4-mapped peer of a dual-stack socket", Addr{}, wireInet6("::ffff:192.0.2.1", 443, 0), ip("192.0.2.1:443"), wireInet4("192.0.2.1", 443)},
		{"IPv6", ip("[2001:db8::1]:443"), wireInet6("2001:db8::1", 443, 0), ip("[2001:db8::1]:443"), nil},
		{"IPv6 any", ip("[::]:8080"), wireInet6("::", 8080, 0), ip("[::]:8080"), nil},
		{"IPv6 loopback", ip("[::1]:65535"), wireInet6("::1", 65535, 0), ip("[::1]:65535"), nil},
		{"zone by name", ip("[fe80::1%" + name + "]:80"), wireInet6("fe80::1", 80, idx), ip("[fe80::1%" + name + "]:80"), nil},
		{"zone by index reads back as its name", ip("[fe80::1%" + strconv.Itoa(int(idx)) + "]:80"), wireInet6("fe80::1", 80, idx), ip("[fe80::1%" + name + "]:80"), nil},
		{"zone of no interface stays an index", ip("[fe80::1%" + strconv.Itoa(int(gone)) + "]:80"), wireInet6("fe80::1", 80, gone), ip("[fe80::1%" + strconv.Itoa(int(gone)) + "]:80"), nil},
		{"Unix path", UnixAddr("/run/cport.sock"), wireUnix("/run/cport.sock\x00"), UnixAddr("/run/cport.sock"), nil},
		{"Unix relative path", UnixAddr("s"), wireUnix("s\x00"), UnixAddr("s"), nil},
		{"Unix path filling sun_path", UnixAddr(string(bytes.Repeat([]byte{'p'}, 107))), wireUnix(string(bytes.Repeat([]byte{'p'}, 107)) + "\x00"), UnixAddr(string(bytes.Repeat([]byte{'p'}, 107))), nil},
		{"Unix path without room for a NUL", UnixAddr(string(bytes.Repeat([]byte{'p'}, 108))), wireUnix(string(bytes.Repeat([]byte{'p'}, 108))), UnixAddr(string(bytes.Repeat([]byte{'p'}, 108))), nil},
		{"abstract", UnixAddr("@cport"), wireUnix("\x00cport"), UnixAddr("@cport"), nil},
		{"abstract with a NUL inside", UnixAddr("@a\x00b"), wireUnix("\x00a\x00b"), UnixAddr("@a\x00b"), nil},
		{"abstract empty name", UnixAddr("@"), wireUnix("\x00"), UnixAddr("@"), nil},
		{"abstract filling sun_path", UnixAddr("@" + string(bytes.Repeat([]byte{'a'}, 107))), wireUnix("\x00" + string(bytes.Repeat([]byte{'a'}, 107))), UnixAddr("@" + string(bytes.Repeat([]byte{'a'}, 107))), nil},
		{"unnamed", UnixAddr(""), wireUnix(""), UnixAddr(""), nil},
		{"path with padding the system added", Addr{}, wireUnix("/p\x00\x00\x00"), UnixAddr("/p"), wireUnix("/p\x00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.in != (Addr{}) {
				buf := bytes.Repeat([]byte{0xAA}, SockaddrLen+8) // garbage must not leak through
				n, err := PutSockaddr(buf, tt.in)
				if err != nil {
					t.Fatalf("PutSockaddr(%q): %v", tt.in, err)
				}
				if !bytes.Equal(buf[:n], tt.wire) {
					t.Errorf("PutSockaddr(%q) = % x, want % x", tt.in, buf[:n], tt.wire)
				}
				if rest := buf[n:SockaddrLen]; !bytes.Equal(rest, make([]byte, len(rest))) {
					t.Errorf("PutSockaddr(%q) left % x after the address, want zeros", tt.in, rest)
				}
			}
			got, err := ParseSockaddr(tt.wire)
			if err != nil {
				t.Fatalf("ParseSockaddr(% x): %v", tt.wire, err)
			}
			if got != tt.back {
				t.Errorf("ParseSockaddr(% x) = %s, want %s", tt.wire, describe(got), describe(tt.back))
			}
			// Round trip: what came back encodes to what it was decoded
			// from, but for the rows that say otherwise.
			rewire := tt.wire
			if tt.rewire != nil {
				rewire = tt.rewire
			}
			buf := make([]byte, SockaddrLen)
			n, err := PutSockaddr(buf, got)
			if err != nil {
				t.Fatalf("PutSockaddr(%q) of a decoded address: %v", got, err)
			}
			if !bytes.Equal(buf[:n], rewire) {
				t.Errorf("PutSockaddr(%q) of a decoded address = % x, want % x", got, buf[:n], rewire)
			}
		})
	}
}

func TestSockaddrErrors(t *testing.T) {
	long := string(bytes.Repeat([]byte{'x'}, 109))
	puts := []struct {
		name string
		in   Addr
		want error
	}{
		{"no address", Addr{}, ErrBadAddr},
		{"path longer than sun_path", UnixAddr(long), ErrPathTooLong},
		{"abstract name too long", UnixAddr("@" + long[1:]), ErrPathTooLong},
		{"NUL in a path", UnixAddr("/a\x00b"), ErrBadAddr},
		{"zone of no interface", IPAddr(netip.MustParseAddrPort("[fe80::1%cport-no-such-if]:1")), ErrUnknownZone},
	}
	for _, tt := range puts {
		if n, err := PutSockaddr(make([]byte, SockaddrLen), tt.in); !errors.Is(err, tt.want) {
			t.Errorf("%s: PutSockaddr(%#v) = %d, %v; want %v", tt.name, tt.in, n, err, tt.want)
		}
	}
	if _, err := PutSockaddr(make([]byte, SockaddrLen-1), UnixAddr("")); err == nil {
		t.Errorf("PutSockaddr into %d bytes succeeded, want an error", SockaddrLen-1)
	}

	short6 := wireInet6("2001:db8::1", 1, 0)[:20]
	parses := []struct {
		name string
		wire []byte
		want error
	}{
		{"empty", nil, ErrBadAddr},
		{"short IPv4", wireInet4("192.0.2.1", 1)[:6], ErrBadAddr},
		{"short IPv6", short6, ErrBadAddr},
		{"unknown family", []byte{0xff, 0x7f, 0, 0}, ErrFamily},
	}
	for _, tt := range parses {
		if a, err := ParseSockaddr(tt.wire); !errors.Is(err, tt.want) {
			t.Errorf("%s: ParseSockaddr(% x) = %#v, %v; want %v", tt.name, tt.wire, a, err, tt.want)
		}
	}
	if _, err := UnixAddr("/p").IPAddrPort(); !errors.Is(err, ErrFamily) {
		t.Errorf("IPAddrPort of a Unix address: %v, want %v", err, ErrFamily)
	}
}
