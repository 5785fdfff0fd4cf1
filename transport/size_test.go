package transport

import (
	"testing"
	"unsafe"
)

// A server holds many idle connections: the connection's size is most of
// what each one costs. 80 bytes is a size class of the Go allocator; a
// field more (the queue's head or the vectored send's message back in the
// conn, the receive cap in a word of its own) moves it to the 96-byte
// class.
func TestConnStaysSmall(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 80 {
		t.Errorf("conn is %d bytes, want at most 80 (move rarely used state to connExtra, or what exists only while writes are queued to segList)", n)
	}
}

// The receive cap shares its word with the flags other goroutines set:
// setting either keeps the other, and the largest cap fits.
func TestReceiveCapKeepsFlags(t *testing.T) {
	var c conn
	c.markClosed()
	c.setRecvSize(2 << 10)
	if !c.isClosed() || c.recvSize() != 2<<10 {
		t.Fatalf("after setting the cap: closed %v, cap %d", c.isClosed(), c.recvSize())
	}
	c.other.Or(offEOF)
	c.setRecvSize(maxRecvSize)
	if c.other.Load()&offEOF == 0 || !c.isClosed() || c.recvSize() != maxRecvSize {
		t.Fatalf("after the largest cap: flags %#x, cap %d", c.other.Load()&(1<<offRecvShift-1), c.recvSize())
	}
	c.setRecvSize(0)
	if c.recvSize() != 0 || c.other.Load() != offClosed|offEOF {
		t.Fatalf("after lifting the cap: word %#x", c.other.Load())
	}
	// A flag set by another goroutine while the loop changes the cap is
	// kept (the race detector watches the word too).
	var d conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.other.Or(offEOF)
	}()
	for n := range 1000 {
		d.setRecvSize(n)
	}
	<-done
	if d.other.Load()&offEOF == 0 || d.recvSize() != 999 {
		t.Fatalf("a flag set meanwhile was lost: word %#x", d.other.Load())
	}
	if maxRecvSize < 1<<30-1 {
		t.Fatalf("the largest cap is %d, below the largest provided buffer", maxRecvSize)
	}
}
