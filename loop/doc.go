// Package loop runs a completion port forever on one goroutine: the seed's
// callback map, plus timers, a ready queue, and a queue that other
// goroutines post work to. It is the layer transports and flows stand on.
//
// # One loop, one goroutine, one thread
//
// [Start] spawns the loop goroutine, which locks itself to its OS thread
// and only then opens its port: io_uring's single-issuer mode binds the
// ring to the thread that created it. Everything the loop owns — the port,
// the callback map, the timers, the ready queue — is touched only by that
// goroutine, so none of it needs a lock. Methods documented "loop only"
// ([Loop.Register], [Loop.Submit], [Loop.CallSoon], [Loop.CallLater], …)
// assume they run there: call them from a callback, a timer or a posted
// function. From any other goroutine, use [Loop.Post]; [Loop.InLoop] tells
// which case applies and costs a load and a compare.
//
// # The iteration
//
// Each turn of the loop does, in order:
//
//  1. Run the ready queue: functions queued by [Loop.CallSoon] and moved
//     in from [Loop.Post] before this turn began. Those they queue wait
//     for the next turn, so a function that re-queues itself cannot
//     starve I/O.
//  2. Refresh the loop time ([Loop.Now]) and run the timers whose deadline
//     has passed, earliest first; equal deadlines in arming order.
//  3. Compute the wait timeout: zero if functions are ready, else the time
//     to the next timer, else no limit. Tell posters the loop is about to
//     sleep, so that the Post which finds it asleep wakes it.
//  4. Wait on the port: flush every submission made since the last turn
//     and collect completions, in one system call on io_uring.
//  5. Dispatch each completion: look its key up in the callback map and
//     call the callback, unless the key was released (the slot's
//     generation tells a stale completion from its new owner's).
//  6. Move posted functions into the ready queue, for the next turn.
//
// A panic in a callback, timer or function is recovered, reported to
// Config.OnPanic, and the loop goes on. With Config.SlowCallback set, any
// of them that runs longer is reported to Config.OnSlow (asyncio's debug
// mode): while one runs, every other connection on the loop waits.
//
// # The Go scheduler
//
// A loop sleeps in its port's wait holding a P, which the runtime's sysmon
// thread would take away at its ticks, waking other threads to no
// purpose. Two habits keep it away: the loop passes through the scheduler
// every few milliseconds (sysmon.go), and a process gives the runtime one
// P more than it runs loops ([ReserveProcs]), which cport's own commands
// do.
//
// # Handles and requests
//
// As in libuv, two lifetimes meet here. A key is a handle: it lives from
// [Loop.Register] until [Loop.Release], across any number of operations,
// and must be released (a connection releases its keys when it closes).
// An operation is a request: it starts with [Loop.Submit] and ends with its
// final completion (one without [port.FlagMore]), whether it succeeded,
// failed or was cancelled with [Loop.Cancel]; its callback sees that
// completion. Every buffer or message passed with it stays pinned — owned
// by the port, not to be reused — until that final completion, even after
// a cancel, because the kernel may still be writing into it. Releasing a
// key with an operation in flight cancels it; its completion is swallowed
// and the callback is not called again, but the buffers stay pinned until
// the kernel lets go. An operation that completes after its cancel was
// asked for may still have succeeded: an accepted socket or an opened file
// in such a completion must be closed by its owner.
//
// # Closing
//
// [Loop.Close] (from any goroutine) refuses new work with [ErrClosed],
// runs what was already posted or ready, cancels every operation in flight
// and delivers the final completions (ECANCELED, or the result if the
// operation finished first) to their callbacks so owners can clean up,
// waiting a bounded time for them. Pending timers do not fire. Then it
// closes the port and returns once the loop goroutine has exited.
//
// # Groups
//
// A [Group] is N loops, one per CPU by default, each with its own port;
// [Group.Next] hands out loops round-robin to spread connections.
package loop
