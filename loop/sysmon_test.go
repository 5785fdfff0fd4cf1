package loop_test

import (
	"runtime"
	"testing"

	"github.com/cport/cport/loop"
)

func TestReserveProcs(t *testing.T) {
	was := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(was) })
	t.Setenv("GOMAXPROCS", "") // as if unset: the environment may set it in CI
	runtime.GOMAXPROCS(1)
	if got := loop.ReserveProcs(1); got != 2 || runtime.GOMAXPROCS(0) != 2 {
		t.Fatalf("ReserveProcs(1) at GOMAXPROCS 1 = %d, GOMAXPROCS now %d; want 2, 2", got, runtime.GOMAXPROCS(0))
	}
	if got := loop.ReserveProcs(1); got != 2 {
		t.Fatalf("ReserveProcs(1) at GOMAXPROCS 2 = %d, want 2 (already one to spare)", got)
	}
	if got := loop.ReserveProcs(3); got != 4 {
		t.Fatalf("ReserveProcs(3) at GOMAXPROCS 2 = %d, want 4", got)
	}
	t.Setenv("GOMAXPROCS", "1")
	runtime.GOMAXPROCS(1)
	if got := loop.ReserveProcs(1); got != 1 || runtime.GOMAXPROCS(0) != 1 {
		t.Fatalf("ReserveProcs(1) with GOMAXPROCS=1 in the environment = %d, GOMAXPROCS now %d; want both left at 1", got, runtime.GOMAXPROCS(0))
	}
}
