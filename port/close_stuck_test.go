package port

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// A port closed while an operation is still in flight after the drain
// keeps the memory that operation may write (the provided buffers among
// it) instead of freeing it, and says so; a port whose operations all
// ended frees it.
func TestCloseKeepsMemoryOfStuckOps(t *testing.T) {
	defer func(d time.Duration) { closeDrainLimit = d }(closeDrainLimit)
	closeDrainLimit = 50 * time.Millisecond

	p, err := Open(Config{Buffers: 4, BufferSize: 4096})
	if err != nil {
		t.Skip(err)
	}
	k, err := p.Register()
	if err != nil {
		t.Fatal(err)
	}
	// In flight as far as the port knows, and unknown to the backend: it
	// can never complete, like a read the kernel will not cancel.
	p.slots.setState(p.slots.lookup(k), slotInFlight)
	err = p.Close()
	if !errors.Is(err, ErrStuckOps) {
		t.Fatalf("Close with an operation that never ends: %v, want ErrStuckOps", err)
	}
	if p.bufs.mem == nil {
		t.Fatal("Close freed the provided buffers while an operation may still write them")
	}
	abandoned.mu.Lock()
	kept := slices.Contains(abandoned.ports, p)
	abandoned.mu.Unlock()
	if !kept {
		t.Fatal("the closed port is not kept: the memory its operations point at may be collected")
	}

	q, err := Open(Config{Buffers: 4, BufferSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("Close with nothing in flight: %v", err)
	}
	if q.bufs.mem != nil {
		t.Fatal("Close kept the buffers of a port with nothing in flight")
	}
}
