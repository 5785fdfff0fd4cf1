package port

import (
	"errors"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// The mirrored kernel structs must match include/uapi/linux/io_uring.h
// byte for byte.
func TestURingABILayout(t *testing.T) {
	checks := []struct {
		name      string
		got, want uintptr
	}{
		{"sizeof(sqe)", unsafe.Sizeof(ioUringSQE{}), 64},
		{"sqe.fd", unsafe.Offsetof(ioUringSQE{}.fd), 4},
		{"sqe.off", unsafe.Offsetof(ioUringSQE{}.off), 8},
		{"sqe.addr", unsafe.Offsetof(ioUringSQE{}.addr), 16},
		{"sqe.len", unsafe.Offsetof(ioUringSQE{}.len), 24},
		{"sqe.opFlags", unsafe.Offsetof(ioUringSQE{}.opFlags), 28},
		{"sqe.userData", unsafe.Offsetof(ioUringSQE{}.userData), 32},
		{"sqe.bufIndex", unsafe.Offsetof(ioUringSQE{}.bufIndex), 40},
		{"sqe.spliceFdIn", unsafe.Offsetof(ioUringSQE{}.spliceFdIn), 44},
		{"sqe.addr3", unsafe.Offsetof(ioUringSQE{}.addr3), 48},
		{"sizeof(cqe)", unsafe.Sizeof(ioUringCQE{}), 16},
		{"sizeof(params)", unsafe.Sizeof(ioUringParams{}), 120},
		{"params.sqOff", unsafe.Offsetof(ioUringParams{}.sqOff), 40},
		{"params.cqOff", unsafe.Offsetof(ioUringParams{}.cqOff), 80},
		{"sizeof(getevents_arg)", unsafe.Sizeof(ioUringGeteventsArg{}), 24},
		{"sizeof(buf_reg)", unsafe.Sizeof(ioUringBufReg{}), 40},
		{"sizeof(buf)", unsafe.Sizeof(ioUringBuf{}), 16},
		{"buf.resv (ring tail)", unsafe.Offsetof(ioUringBuf{}.resv), 14},
		{"sizeof(probe_op)", unsafe.Sizeof(ioUringProbeOp{}), 8},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}

// openURingPort opens a port on the io_uring backend or skips the test
// where this process may not use io_uring.
func openURingPort(t testing.TB, cfg Config) *Port {
	t.Helper()
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	cfg.Backend = "uring"
	p, err := Open(cfg)
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, errUringTooOld) {
			t.Skipf("io_uring unavailable here: %v", err)
		}
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// A completion queue far smaller than a burst of completions: the kernel
// keeps the surplus (NODROP) and every completion is still delivered once.
func TestURingCQOverflowDeliversAll(t *testing.T) {
	p := openURingPort(t, Config{Entries: 4, CQEntries: 4})
	const burst = 1000
	keys := make(map[Key]bool, burst)
	for i := 0; i < burst; i++ {
		k, err := p.Register()
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Submit(k, Nop()); err != nil {
			t.Fatalf("Submit %d: %v", i, err)
		}
		keys[k] = false
	}
	// Submitting 1000 nops through a 4-entry ring ran them all; the CQ
	// holds 4, so the kernel must be holding the rest.
	if r := p.b.(*uring); atomic.LoadUint32(r.sqFlags)&sqCQOverflow == 0 {
		t.Fatalf("the CQ did not overflow; the test proves nothing")
	}
	out := make([]Completion, 512)
	got := 0
	for got < burst {
		n, err := p.Wait(out, time.Second)
		if err != nil {
			t.Fatalf("Wait after %d completions: %v", got, err)
		}
		if n == 0 {
			t.Fatalf("Wait returned nothing after %d of %d completions", got, burst)
		}
		for _, c := range out[:n] {
			seen, ok := keys[c.Key]
			if !ok || seen {
				t.Fatalf("completion for unknown or repeated key %v", c.Key)
			}
			keys[c.Key] = true
		}
		got += n
	}
}

// More submissions than the SQ holds, all before one Wait: the port
// submits to make room or keeps the rest in its backlog, never drops one.
func TestURingSQFullNeverDrops(t *testing.T) {
	p := openURingPort(t, Config{Entries: 4, CQEntries: 8})
	const total = 300
	for i := 0; i < total; i++ {
		k, _ := p.Register()
		if err := p.Submit(k, Nop()); err != nil {
			t.Fatalf("Submit %d: %v", i, err)
		}
	}
	out := make([]Completion, 16)
	got := 0
	for got < total {
		n, err := p.Wait(out, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("stalled after %d of %d", got, total)
		}
		got += n
	}
}

func TestURingSetupFlags(t *testing.T) {
	p := openURingPort(t, Config{})
	r := p.b.(*uring)
	t.Logf("setup flags %#x, features %#x", r.setup, r.features)
	if r.setup&setupSingleIssuer == 0 {
		t.Logf("kernel refused SINGLE_ISSUER|DEFER_TASKRUN; using %#x", r.setup)
	}
	k, _ := p.Register()
	if err := p.Submit(k, Timeout(time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	out := make([]Completion, 4)
	n, err := p.Wait(out, -1)
	if err != nil || n != 1 || out[0].Err() != syscall.ETIME {
		t.Fatalf("timeout: n=%d err=%v res=%v, want one ETIME", n, err, out[0].Err())
	}
}
