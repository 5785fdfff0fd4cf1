package port

import (
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// residentPages counts b's pages in memory.
func residentPages(t *testing.T, b []byte) int {
	t.Helper()
	page := unix.Getpagesize()
	vec := make([]byte, (len(b)+page-1)/page)
	_, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
	if e != 0 {
		t.Fatalf("mincore: %v", e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// After a burst that lent most of the pool at once, the epoll backend
// gives the memory of all but the first buffers back when it next goes
// to sleep with every buffer free; the first stay resident, and are the
// ones handed out next.
func TestEpollBufferPoolTrimsAfterBurst(t *testing.T) {
	p, err := Open(Config{Backend: "epoll", Buffers: 256, BufferSize: 16 << 10})
	if err != nil {
		t.Skipf("epoll: %v", err)
	}
	defer p.Close()
	b := p.b.(*epollBackend)
	epollBurst(t, p, b)
	tail := p.bufs.mem[buffersKeptResident*p.bufs.size:]
	if n := residentPages(t, tail); n == 0 {
		t.Fatal("the burst's buffers are not resident to begin with")
	}
	events := make([]Completion, 4)
	p.Wait(events, time.Millisecond) // nothing to do: it sleeps, and trims first
	if n := residentPages(t, tail); n != 0 {
		t.Errorf("%d pages of the buffers past the first %d still resident after the burst", n, buffersKeptResident)
	}
	if id, _ := b.free.take(); int(id) >= buffersKeptResident {
		t.Errorf("after the trim buffer %d is handed out first, want one of the first %d", id, buffersKeptResident)
	}
}

// A second burst that ends sooner after the last trim than the trim
// interval is given back too, once the interval is over, although the
// loop sleeps on with nothing to do: the backend wakes for the trim.
func TestEpollBufferPoolTrimsBurstWithinInterval(t *testing.T) {
	defer func(d int64) { bufferTrimEvery = d }(bufferTrimEvery)
	bufferTrimEvery = int64(50 * time.Millisecond)
	p, err := Open(Config{Backend: "epoll", Buffers: 256, BufferSize: 16 << 10})
	if err != nil {
		t.Skipf("epoll: %v", err)
	}
	defer p.Close()
	b := p.b.(*epollBackend)
	burst := func() { epollBurst(t, p, b) }
	tail := p.bufs.mem[buffersKeptResident*p.bufs.size:]
	events := make([]Completion, 4)
	burst()
	p.Wait(events, time.Millisecond) // the first trim
	burst()                          // within the interval
	if n := residentPages(t, tail); n == 0 {
		t.Fatal("the second burst's buffers are not resident to begin with")
	}
	p.Wait(events, 10*time.Duration(bufferTrimEvery)) // idle, long past the interval
	if n := residentPages(t, tail); n != 0 {
		t.Errorf("%d pages of the second burst's buffers still resident after an idle wait past the trim interval", n)
	}
}

// epollBurst lends 200 buffers at once, as 200 receives would, writes
// every page of each, and gives them all back.
func epollBurst(t *testing.T, p *Port, b *epollBackend) {
	t.Helper()
	var ids []uint16
	for range 200 {
		id, ok := b.free.take()
		if !ok {
			t.Fatal("the pool ran dry")
		}
		buf := p.bufs.get(id)
		for i := 0; i < len(buf); i += 4096 {
			buf[i] = 1
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		b.free.put(id)
	}
}
