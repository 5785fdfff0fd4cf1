//go:build linux || windows

package sock

import (
	"bytes"
	"testing"
)

// Whatever bytes the system hands back, ParseSockaddr returns an address
// or an error without panicking, and an address it returns encodes and
// decodes to itself.
func FuzzParseSockaddr(f *testing.F) {
	f.Add(wireInet4("192.0.2.1", 80))
	f.Add(wireInet6("::ffff:192.0.2.1", 443, 0))
	f.Add(wireInet6("fe80::1", 80, 1))
	f.Add(wireUnix("/run/cport.sock\x00"))
	f.Add(wireUnix("\x00abstract"))
	f.Add(wireUnix(""))
	f.Add(wireUnix(string(bytes.Repeat([]byte{'p'}, 108))))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseSockaddr(b)
		if err != nil {
			return
		}
		buf := make([]byte, SockaddrLen)
		n, err := PutSockaddr(buf, a)
		if err != nil {
			t.Fatalf("ParseSockaddr(% x) = %s, which PutSockaddr refuses: %v", b, describe(a), err)
		}
		again, err := ParseSockaddr(buf[:n])
		if err != nil || again != a {
			t.Fatalf("%s encodes to % x, which decodes to %s, %v", describe(a), buf[:n], describe(again), err)
		}
	})
}
