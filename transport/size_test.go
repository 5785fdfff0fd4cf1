package transport

import (
	"testing"
	"unsafe"
)

// A server holds many idle connections: the connection's size is most of
// what each one costs. 96 bytes is a size class of the Go allocator; a
// field more, or the write queue's segments back as a slice header in the
// conn, moves it to the 112-byte class.
func TestConnStaysSmall(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 96 {
		t.Errorf("conn is %d bytes, want at most 96 (move rarely used state to connExtra)", n)
	}
}
