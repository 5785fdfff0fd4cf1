package port

import (
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openURingPair opens an io_uring port with a pool of n buffers of 4 KiB
// and a connected stream socket pair: ours is read through the port, the
// peer's written directly.
func openURingPair(t *testing.T, n int) (*Port, *uring, int, int) {
	t.Helper()
	runtime.LockOSThread() // a single-issuer ring is driven from its thread
	t.Cleanup(runtime.UnlockOSThread)
	p, err := Open(Config{Backend: "uring", Buffers: n, BufferSize: 4096})
	if err != nil {
		t.Skipf("uring: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return p, p.b.(*uring), fds[0], fds[1]
}

// receiveOne waits for the next completion of k and rearms after its end.
func receiveOne(t *testing.T, p *Port, k Key, fd int) Completion {
	t.Helper()
	out := make([]Completion, 1)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		n, err := p.Wait(out, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			if !out[0].More() {
				if err := p.Submit(k, RecvMultishot(fd)); err != nil {
					t.Fatal(err)
				}
			}
			return out[0]
		}
	}
	t.Fatal("no completion")
	return Completion{}
}

// Under a steady trickle, the ring cycles through its working set only:
// the rest of the pool is never touched, so never resident.
func TestURingRingKeepsAWorkingSet(t *testing.T) {
	const pool = 256
	p, _, fd, peer := openURingPair(t, pool)
	k, _ := p.Register()
	if err := p.Submit(k, RecvMultishot(fd)); err != nil {
		t.Fatal(err)
	}
	used := map[uint16]bool{}
	msg := make([]byte, 100)
	for range 2 * pool {
		if _, err := unix.Write(peer, msg); err != nil {
			t.Fatal(err)
		}
		c := receiveOne(t, p, k, fd)
		if id, ok := c.BufferID(); ok {
			used[id] = true
			p.RecycleBuffer(id)
		}
	}
	if len(used) > ringStart {
		t.Errorf("a one-at-a-time trickle used %d distinct buffers of %d, want at most the working set of %d", len(used), pool, ringStart)
	}
}

// A burst that holds more buffers than the working set makes receives
// run dry (ENOBUFS) and the set grow; once the loop idles with every
// buffer back, the set shrinks and the spare buffers' memory is given
// back, after the trim interval, even though the wait has nothing else
// to wake it.
func TestURingRingGrowsAndTrims(t *testing.T) {
	rt := startRingTrimTest(t)
	p, r := rt.p, rt.r
	held, dry := rt.hold(100)
	if dry == 0 || r.ringWant <= ringStart {
		t.Fatalf("holding 100 buffers: %d dry receives, working set %d; want it grown past %d", dry, r.ringWant, ringStart)
	}
	for _, id := range held {
		p.RecycleBuffer(id)
	}
	// The rest of what was sent, given back as it comes; then idle past
	// the interval.
	idlePastTrim(t, p)
	if r.ringWant != ringStart {
		t.Errorf("after the burst and an idle wait the working set is %d, want %d", r.ringWant, ringStart)
	}
	resident := 0
	for _, id := range r.spare {
		b := p.bufs.get(id)
		resident += residentPages(t, b)
	}
	if resident != 0 {
		t.Errorf("%d pages of the %d spare buffers still resident after the trim", resident, len(r.spare))
	}
}

// Buffers a burst left in the kernel's ring go back too. A burst that
// grew the working set to most of the pool leaves those buffers
// published to the ring, where the kernel keeps them until it uses
// them: an idle loop's trim must take the ring back and hand it the
// working set alone, or the whole pool stays resident while the loop
// idles. Receiving then goes on, from the new ring, byte for byte.
//
// A ring without DEFER_TASKRUN is not taken back (the kernel could post a
// completion naming one of its buffers at any moment): it keeps its
// buffers until the kernel uses them, and receives go on as well.
func TestURingRingGivesBackWhatABurstLeft(t *testing.T) {
	t.Run("deferred", func(t *testing.T) { testRingAfterBurst(t, true) })
	t.Run("cooperative", func(t *testing.T) {
		defer func(a []uint32) { setupAttempts = a }(setupAttempts)
		setupAttempts = setupAttempts[1:]
		testRingAfterBurst(t, false)
	})
}

func testRingAfterBurst(t *testing.T, deferred bool) {
	rt := startRingTrimTest(t)
	p, r, k, fd, peer := rt.p, rt.r, rt.k, rt.fd, rt.peer
	if got := r.setup&setupDeferTaskrun != 0; got != deferred {
		t.Skipf("the ring's DEFER_TASKRUN is %v, the case needs %v", got, deferred)
	}
	// Hold 200 buffers at once, so the set grows to cover them, then give
	// them all back: with the set grown, they go back into the ring.
	held, _ := rt.hold(200)
	for _, id := range held {
		p.RecycleBuffer(id)
	}
	if r.inRing <= ringStart {
		t.Fatalf("after the burst the ring holds %d buffers; the test needs it grown past %d", r.inRing, ringStart)
	}
	if n := residentPages(t, p.bufs.mem); n < 200 {
		t.Fatalf("%d pages of the pool resident after the burst, want its 200 buffers'", n)
	}
	idlePastTrim(t, p)
	switch n := residentPages(t, p.bufs.mem); {
	case deferred && n > ringStart:
		t.Errorf("%d pages of the pool still resident after an idle wait past the trim interval, want at most the working set's %d (the ring holds %d buffers)", n, ringStart, r.inRing)
	case !deferred && r.inRing <= ringStart:
		t.Errorf("a ring without DEFER_TASKRUN was taken back: it holds %d buffers", r.inRing)
	}
	// The receive armed before the trim goes on with the new ring.
	want := []byte("after the trim")
	if _, err := unix.Write(peer, want); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for len(got) < len(want) {
		c := receiveOne(t, p, k, fd)
		if id, ok := c.BufferID(); ok {
			got = append(got, p.Buffer(c)...)
			p.RecycleBuffer(id)
		} else if c.Res < 0 && c.Res != -int32(syscall.ENOBUFS) {
			t.Fatalf("receive after the trim: %v", syscall.Errno(-c.Res))
		}
	}
	if string(got) != string(want) {
		t.Errorf("received %q after the trim, want %q", got, want)
	}
}

// ringTrimTest is a port with a 256-buffer pool, a trim interval of
// 50 ms, and a multishot receive armed on k for fd, whose peer writes.
type ringTrimTest struct {
	t        *testing.T
	p        *Port
	r        *uring
	k        Key
	fd, peer int
}

func startRingTrimTest(t *testing.T) *ringTrimTest {
	t.Helper()
	saved := bufferTrimEvery
	t.Cleanup(func() { bufferTrimEvery = saved })
	bufferTrimEvery = int64(50 * time.Millisecond)
	const pool = 256
	p, r, fd, peer := openURingPair(t, pool)
	k, _ := p.Register()
	if err := p.Submit(k, RecvMultishot(fd)); err != nil {
		t.Fatal(err)
	}
	return &ringTrimTest{t: t, p: p, r: r, k: k, fd: fd, peer: peer}
}

// hold receives 4 KiB writes until n buffers are held at once, each
// touched as a receive leaves it, and returns them and how many receives
// found the ring dry (ENOBUFS) meanwhile.
func (rt *ringTrimTest) hold(n int) (held []uint16, dry int) {
	rt.t.Helper()
	msg := make([]byte, 4096)
	for len(held) < n {
		if _, err := unix.Write(rt.peer, msg); err != nil {
			rt.t.Fatal(err)
		}
		c := receiveOne(rt.t, rt.p, rt.k, rt.fd)
		if id, ok := c.BufferID(); ok {
			rt.p.bufs.get(id)[0] = 1 // resident, as a receive leaves it
			held = append(held, id)
		} else if c.Res == -int32(syscall.ENOBUFS) {
			dry++
		}
	}
	return held, dry
}

// idlePastTrim takes the rest of what was sent, giving each buffer back
// as it comes, then waits idle past the trim interval.
func idlePastTrim(t *testing.T, p *Port) {
	t.Helper()
	out := make([]Completion, 16)
	for {
		n, err := p.Wait(out, 10*time.Duration(bufferTrimEvery))
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		for _, c := range out[:n] {
			if id, ok := c.BufferID(); ok {
				p.RecycleBuffer(id)
			}
		}
	}
}

// When the ring runs dry, every receive with data waiting ends with
// ENOBUFS in the same moment, and each of those completions is the same
// news: the working set must grow once for them, not once each. Grown
// once per completion, forty sockets' first messages took the working set
// from 32 buffers to the whole pool, all of it then cycled through and
// resident under a load that needed 40.
func TestURingRingGrowsOncePerDryBatch(t *testing.T) {
	const sockets = 40
	p, r, _, _ := openURingPair(t, 256)
	fds := make([]int, sockets)
	msg := make([]byte, 4096)
	for i := range fds {
		pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(pair[0]); unix.Close(pair[1]) })
		if _, err := unix.Write(pair[1], msg); err != nil {
			t.Fatal(err)
		}
		fds[i] = pair[0]
	}
	// Armed with the data already there: each receive takes a buffer as it
	// is submitted, and those past the working set find the ring empty.
	for _, fd := range fds {
		k, _ := p.Register()
		if err := p.Submit(k, RecvMultishot(fd)); err != nil {
			t.Fatal(err)
		}
	}
	out := make([]Completion, 2*sockets)
	dry, got := 0, 0
	for deadline := time.Now().Add(10 * time.Second); got < sockets; {
		if time.Now().After(deadline) {
			t.Fatalf("%d completions of %d after 10s", got, sockets)
		}
		n, err := p.Wait(out, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range out[:n] {
			got++
			if c.Res == -int32(syscall.ENOBUFS) {
				dry++
			}
		}
	}
	if dry < 2 {
		t.Fatalf("%d of %d receives found the ring dry, want several (the working set is %d)", dry, sockets, ringStart)
	}
	if want := 2 * ringStart; r.ringWant != want {
		t.Errorf("%d receives ran dry together; the working set grew to %d, want one step, to %d", dry, r.ringWant, want)
	}
}
