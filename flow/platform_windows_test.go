package flow_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
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

// tempDir is a temporary directory for flat files, removed at the end of
// the test. Not t.TempDir: its cleanup's os.RemoveAll deletes on Windows
// through FileDispositionInformationEx, which Wine 8 lacks
// (ERROR_INVALID_FUNCTION fails the test), while os.Remove (DeleteFile,
// RemoveDirectory) works on Wine and Windows alike.
func tempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "cport-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			os.Remove(filepath.Join(dir, e.Name()))
		}
		if err := os.Remove(dir); err != nil {
			t.Errorf("removing the test's directory: %v", err)
		}
	})
	return dir
}
