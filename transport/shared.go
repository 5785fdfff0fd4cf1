package transport

import (
	"github.com/cport/cport/internal/sock"
	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
)

// shared is what a loop's connections share: free write chunks and
// vectored-send messages. Only the loop's goroutine touches it.
type shared struct {
	chunks chunkPool
	segs   segArrays
	msgs   freeList[*port.Msg]
	iov    [][]byte // sendQueuedNow's buffers, reused

	l         *loop.Loop // the loop they belong to, for the trim's timer
	trimArmed bool
	trimFn    func() // s.trim, bound once
	trimmed   int    // chunk bytes the trim has given back
}

// sharedLocal is each loop's shared state.
var sharedLocal = loop.NewLocal[shared]()

// closeWatched closes fd, on l's goroutine, after telling l's port to
// forget it: the epoll and IOCP backends remember the descriptors their
// operations ran on, and a new socket reusing the number must not inherit
// that. Sockets closed with the port's Close op need not.
func closeWatched(l *loop.Loop, fd int) {
	l.Port().Forget(fd)
	sock.Close(fd)
}

func (s *shared) getMsg() *port.Msg {
	if m, ok := s.msgs.pop(); ok {
		return m
	}
	// Room for a few segments; a longer queue grows it, up to maxIovecs.
	// A stalled peer's send keeps its message for as long as it stalls.
	return &port.Msg{Buffers: make([][]byte, 0, 4)}
}

func (s *shared) putMsg(m *port.Msg) {
	clear(m.Buffers)
	m.Buffers = m.Buffers[:0]
	s.msgs.push(m)
	s.spare()
}
