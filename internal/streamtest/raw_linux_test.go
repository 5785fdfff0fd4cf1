package streamtest_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cport/cport/internal/streamtest"
)

// A raw client reaches a Go listener, writes all it was given, reads back
// exactly what it asked for, and sees an early end of stream as one.
func TestRawClientEcho(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	want := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // larger than the socket buffers
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c, got); err != nil {
			return
		}
		c.Write(got[:len(got)-1]) // one byte short, then the end
	}()
	ap := netip.MustParseAddrPort(ln.Addr().String())
	fd, err := streamtest.RawDial(&unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()})
	if fd >= 0 {
		defer unix.Close(fd)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := streamtest.RawWriteAll(fd, want); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	err = streamtest.RawReadFull(fd, got)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("reading one byte more than was sent: %v, want %v", err, io.ErrUnexpectedEOF)
	}
	if !bytes.Equal(got[:len(got)-1], want[:len(want)-1]) {
		t.Error("the echoed bytes differ from those written")
	}
	if n, err := streamtest.RawRead(fd, got); n != 0 || err != nil {
		t.Errorf("read at the end of stream: %d, %v; want 0, nil", n, err)
	}
}
