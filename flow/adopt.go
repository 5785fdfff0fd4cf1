package flow

import (
	"errors"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/transport"
)

// ErrAdoptOffLoop: Adopt was called off the transport's loop.
var ErrAdoptOffLoop = errors.New("flow: Adopt off the transport's loop")

// Adopt takes over t, a connection another protocol served until now (a
// server's, after an Upgrade or a CONNECT), as a Conn for sequential
// code: its reads begin with buffered (bytes the old protocol had read
// and not used), then what arrives on t. It makes the Conn t's protocol
// and resumes reading. Call it on t's loop, in a flow or a callback.
func Adopt(t transport.Transport, buffered []byte) (*Conn, error) {
	l := t.Loop()
	if loop.Current() != l {
		return nil, ErrAdoptOffLoop
	}
	c := newConn(streamNet(t.LocalAddr().Network()))
	c.t, c.l = t, l
	if len(buffered) > 0 {
		c.keep(buffered)
	}
	t.SetProtocol(c)
	t.ResumeReading()
	return c, nil
}
