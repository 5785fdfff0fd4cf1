//go:build amd64 || arm64

package loop

// getm returns the runtime's handle of the OS thread running the caller
// (the m pointer of the running g; thread_$GOARCH.s). The loop goroutine is
// locked to its thread, so while it lives that m runs nothing but the loop
// goroutine and the coroutines it switches to (flows, built on iter.Pull):
// comparing m pointers says "on the loop" for all of them alike, with no
// bookkeeping at each switch, at the cost of one call and two loads.
//
// The m field's offset in g (48 bytes on 64-bit platforms: the stack
// bounds, two stack guards, the panic and defer chains) is fixed in the
// runtime because the linker depends on it; TestGetm checks it still
// tells threads apart and coroutines of one thread together.
func getm() uintptr

// onLoop needs no zero check: a running goroutine always has an m, and
// l.m is zero only before the loop starts and after it ends. Kept this
// small so that InLoop inlines into its callers.
func (l *Loop) onLoop() bool { return getm() == l.m.Load() }
