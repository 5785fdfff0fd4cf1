package port_test

import (
	"testing"

	"github.com/cport/cport/port"
)

// TestBatchWaitGathersWithoutMinTimeout is TestBatchWaitGathers on a ring
// that lingers as it must before Linux 6.12 (the epoll way).
func TestBatchWaitGathersWithoutMinTimeout(t *testing.T) {
	port.WithoutMinTimeout(func() { testBatchWaitGathers(t) })
}
