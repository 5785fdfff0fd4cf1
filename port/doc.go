// Package port is cport's completion port: the operating system's
// "start an operation under a key, collect the keys of what finished"
// interface, with one API over three kernels' mechanisms.
//
// The four steps of the completion-port model map onto it directly:
//
//  1. Create a key: [Port.Register] returns a [Key] (a slot index plus a
//     generation). The caller maps it to whatever it likes — the loop
//     package maps it to a callback.
//  2. Call: [Port.Submit] starts an [Op] (accept, recv, send, connect,
//     timeout, …) naming the key.
//  3. Poll: [Port.Wait] flushes every queued submission and waits for
//     completions in one system call, returning (key, result, flags)
//     triples as [Completion] values.
//  4. Look up and call back: the caller finds the key in its own map.
//
// # Backends
//
// On Linux the port runs on io_uring when the kernel allows it and on
// epoll otherwise; CPORT_BACKEND=uring|epoll forces one. The epoll backend
// waits for readiness, performs the I/O itself and reports the result as a
// completion, so both backends give the same results for the same
// operations. Being the one that makes the system calls, epoll can also
// send outside any operation: [Port.SendNow] writes what a socket takes at
// once, for a writer with nothing in flight ([Port.SendsNow] says whether
// the port can). On Windows the port is IOCP itself, the model's original:
// AcceptEx, WSARecv and WSASend with an OVERLAPPED per key, collected with
// GetQueuedCompletionStatusEx. Elsewhere [Open] returns an error saying
// which backends exist.
//
// # Ownership
//
// A Port is driven by one goroutine, locked to its OS thread with
// runtime.LockOSThread before [Open] (io_uring's single-issuer mode binds the
// ring to the thread that created it). Only [Port.Wake] may be called from
// other goroutines.
//
// Every buffer, address and message handed to Submit belongs to the port
// until the operation's final completion (one whose [Completion.More] is
// false), even after [Port.Cancel] or [Port.Release]: the kernel may still
// write into it. The port keeps it reachable from the key's slot until then,
// so the garbage collector neither frees nor reuses it; callers must pass
// heap memory and must not touch it meanwhile.
//
// A key carries at most one operation at a time. A connection that reads
// and writes at once uses two keys, exactly as an IOCP program uses two
// OVERLAPPED structures.
package port
