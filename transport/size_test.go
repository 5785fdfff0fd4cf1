package transport

import (
	"testing"
	"unsafe"
)

// A server holds many idle connections: the connection's size is most of
// what each one costs.
func TestConnStaysSmall(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 112 {
		t.Errorf("conn is %d bytes, want at most 112 (move rarely used state to connExtra)", n)
	}
}
