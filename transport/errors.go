package transport

import (
	"errors"
	"net"
)

var (
	// ErrClosed is returned by calls on a closed transport. It is
	// net.ErrClosed, so errors.Is(err, net.ErrClosed) holds as it does
	// for Go's own connections.
	ErrClosed = net.ErrClosed
	// ErrIdleTimeout is the cause of a connection closed by SetIdleTimeout.
	ErrIdleTimeout = errors.New("transport: idle timeout")
	// ErrWriteQueueFull: the connection's write queue is at its limit
	// (DefaultWriteQueueLimit, or SetWriteQueueLimit's): the peer reads
	// slower than the protocol writes. Nothing of this write was queued,
	// and nothing queued before it is lost.
	ErrWriteQueueFull = errors.New("transport: write queue full: the peer is not reading (wait for ResumeWriting, or raise SetWriteQueueLimit)")
	// ErrWriteAfterEOF: Write after WriteEOF.
	ErrWriteAfterEOF = errors.New("transport: write after WriteEOF")
)

// opError wraps err with the operation and addresses, as net does.
func opError(op, network string, local, remote net.Addr, err error) error {
	if err == nil {
		return nil
	}
	return &net.OpError{Op: op, Net: network, Source: local, Addr: remote, Err: err}
}
