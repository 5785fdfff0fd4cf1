package http

import (
	"testing"
	"unsafe"
)

// A server holds many idle connections: the connection's size is much of
// what each one costs.
func TestConnStaysSmall(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 96 {
		t.Errorf("conn is %d bytes, want at most 96 (move what only serving needs to the worker)", n)
	}
}
