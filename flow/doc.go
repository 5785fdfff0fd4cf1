// Package flow runs sequential, blocking-style code on cport's loops:
// Gruvi's fibers (gevent's greenlets) on a completion-port loop.
//
// A flow is a function started with Go. It runs as a coroutine of its
// loop (iter.Pull): only while the loop goroutine is switched to it, on
// the loop's own OS thread, one flow at a time per loop. It switches only
// where it blocks or yields: Sleep, Yield, Conn.Read, Next and Write,
// Listener.Accept, Dial,
// PacketConn.ReadFrom, a subprocess's Pipe reads and writes and Cmd.Wait,
// the waits of Mutex, Event, Cond, Semaphore, Queue, WaitGroup and Group,
// Flow.Join, and Blocking. Between two such calls no
// other flow of the loop runs, so flows of one loop share state without
// locks; NoSwitch asserts that a block of code does not switch.
//
// A parked flow is resumed by whatever ends its wait, on the loop: a
// connection's DataReceived copying bytes straight into the parked Read's
// slice, a loop timer, another flow's Unlock or Set, or a function posted
// from another goroutine. Switches go from flow to flow without a trip
// through the Go scheduler: a flow that parks resumes the ready ones
// itself, and a handoff costs one coroutine switch each way.
//
// Inside a flow, loop.InLoop is true (it runs on the loop's thread), so
// transports act at once rather than posting, and every submission to
// the port comes from the loop's thread, as io_uring's single-issuer mode
// requires. A flow's writes are queued at once and sent from the loop's
// own stack just before it polls (transport.WriteBeforePoll), so a parked
// flow keeps the smallest goroutine stack; Next hands over received
// bytes without a copy and holds no read buffer while it waits.
//
// # What not to do in a flow
//
// A flow must not block its thread: while it runs, its whole loop waits.
// Calls that block an OS thread — cgo, file systems without io_uring
// support, the system resolver, time.Sleep, channel operations that wait,
// sync.Mutex held by a goroutine — belong in Blocking, which runs them in
// a bounded worker pool and parks the flow until they return. A flow must
// not call runtime.LockOSThread or UnlockOSThread: the runtime requires a
// coroutine's thread locking to match its creator's.
//
// # TLS
//
// crypto/tls runs unchanged over a Conn (ListenTLS, DialTLS return a
// TLSConn, a *tls.Conn whose writes wait for the watermark outside
// crypto/tls's locks, so one flow may read while another writes), and
// TLSServer serves a transport.Protocol over TLS. crypto/tls holds a
// sync.Mutex through the handshake: finish HandshakeContext in one flow
// before a second flow uses the same connection, or a flow that parks
// holding the lock freezes its loop.
//
// # Cancellation and deadlines
//
// Blocking calls take a context: the flow's own (Flow.Context), or one
// derived from it with a deadline or cancel. Its deadline becomes a loop
// timer; Flow.Cancel ends the call in progress and every later one with
// context.Canceled. Conn, Listener and PacketConn also honour net.Conn
// deadlines, which fail with an error satisfying os.ErrDeadlineExceeded.
//
// # Goroutines
//
// Conn, Listener, PacketConn, Dial, Listen and Flow.Wait also work from
// plain goroutines: they block the goroutine and do their work on the loop.
// From a flow of another loop, Conn's, PacketConn's and Pipe's calls park
// that flow while the owner works: a loop's thread never waits for another
// loop. The synchronization primitives are for the flows of one loop.
package flow
