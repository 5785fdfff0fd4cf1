package transport

import (
	"sync"

	"github.com/cport/cport/internal/sock"
	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
)

// shared is what a loop's connections share: free write chunks and
// vectored-send messages. Only the loop's goroutine touches it.
type shared struct {
	chunks chunkPool
	segs   segArrays
	msgs   []*port.Msg
}

var sharedByLoop sync.Map // *loop.Loop → *shared

// sharedFor returns l's shared state, creating it on first use. It is
// looked up once per connection, never per operation.
func sharedFor(l *loop.Loop) *shared {
	if v, ok := sharedByLoop.Load(l); ok {
		return v.(*shared)
	}
	v, _ := sharedByLoop.LoadOrStore(l, &shared{})
	go func() {
		<-l.Done()
		sharedByLoop.Delete(l)
	}()
	return v.(*shared)
}

// closeWatched closes fd, on l's goroutine, after telling l's port to
// forget it: the epoll and IOCP backends remember the descriptors their
// operations ran on, and a new socket reusing the number must not inherit
// that. Sockets closed with the port's Close op need not.
func closeWatched(l *loop.Loop, fd int) {
	l.Port().Forget(fd)
	sock.Close(fd)
}

func (s *shared) getMsg() *port.Msg {
	if n := len(s.msgs); n > 0 {
		m := s.msgs[n-1]
		s.msgs = s.msgs[:n-1]
		return m
	}
	return &port.Msg{Buffers: make([][]byte, 0, maxIovecs)}
}

func (s *shared) putMsg(m *port.Msg) {
	clear(m.Buffers)
	m.Buffers = m.Buffers[:0]
	s.msgs = append(s.msgs, m)
}
