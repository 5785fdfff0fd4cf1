package transport

import (
	"errors"
	"io"
	"net"
	"os"
)

var (
	// ErrClosed is returned by calls on a closed transport. It is
	// net.ErrClosed, so errors.Is(err, net.ErrClosed) holds as it does
	// for Go's own connections.
	ErrClosed = net.ErrClosed
	// ErrIdleTimeout is the cause of a connection closed by
	// SetIdleTimeout. It is a timeout as Go code checks one: a net.Error
	// whose Timeout is true, and errors.Is(err, os.ErrDeadlineExceeded).
	ErrIdleTimeout error = &timeoutError{"transport: idle timeout"}
	// ErrWriteQueueFull: the connection's write queue is at its limit
	// (DefaultWriteQueueLimit, or SetWriteQueueLimit's): the peer reads
	// slower than the protocol writes. Nothing of this write was queued,
	// and nothing queued before it is lost.
	ErrWriteQueueFull = errors.New("transport: write queue full: the peer is not reading (wait for ResumeWriting, or raise SetWriteQueueLimit)")
	// ErrWriteAfterEOF: Write after WriteEOF.
	ErrWriteAfterEOF = errors.New("transport: write after WriteEOF")
)

// timeoutError is a timeout that net.Error and os.ErrDeadlineExceeded
// checks recognise.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string        { return e.msg }
func (e *timeoutError) Timeout() bool        { return true }
func (e *timeoutError) Temporary() bool      { return true }
func (e *timeoutError) Is(target error) bool { return target == os.ErrDeadlineExceeded }

// Writer is t as an io.Writer, for Go code that expects one (fmt.Fprintf,
// io.Copy, encoders): Write queues all of p or returns the transport's
// error, as Transport.Write does.
func Writer(t Transport) io.Writer { return transportWriter{t} }

type transportWriter struct{ t Transport }

func (w transportWriter) Write(p []byte) (int, error) {
	if err := w.t.Write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// opError wraps err with the operation and addresses, as net does.
func opError(op, network string, local, remote net.Addr, err error) error {
	if err == nil {
		return nil
	}
	return &net.OpError{Op: op, Net: network, Source: local, Addr: remote, Err: err}
}
