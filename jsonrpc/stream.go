package jsonrpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// MaxMessage is the default bound of one message, DefaultMaxMessage.
const MaxMessage = DefaultMaxMessage

// ErrMessageTooLarge: a stream message passed the server's MaxMessage.
var ErrMessageTooLarge = errors.New("jsonrpc: message too large")

// errBatchTooLarge: a stream message was a batch of more than MaxBatch
// entries; it has been read to its end and dropped.
var errBatchTooLarge = errors.New("jsonrpc: batch too large")

// ServeConn answers the newline-delimited messages read from rw, one at a
// time and in order, until rw ends (nil) or fails. In a flow with a
// flow.Conn it parks the flow between messages and reads with the
// connection's Next, so an idle connection costs its flow and no read
// buffer. A batch of more than MaxBatch entries is refused as it
// arrives: the rest of its line is read and dropped, not kept, then one
// -32600 reply, and the stream goes on. A message over
// MaxMessage gets a -32600 error reply, then the stream is closed
// (ErrMessageTooLarge); a peer silent for IdleTimeout ends it, when rw
// has read deadlines.
func (s *Server) ServeConn(ctx context.Context, rw io.ReadWriter) error {
	lines := newLineReader(rw)
	dl, _ := rw.(interface{ SetReadDeadline(time.Time) error })
	idle := s.idleTimeout()
	for {
		if dl != nil && idle > 0 {
			dl.SetReadDeadline(time.Now().Add(idle))
		}
		line, err := readLine(lines, s.maxMessage(), s.maxBatch())
		if err == errBatchTooLarge {
			if werr := refuse(rw, batchTooLarge(s.maxBatch())); werr != nil {
				return werr
			}
			continue
		}
		if err == ErrMessageTooLarge {
			refuse(rw, &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf("invalid request: message over %d bytes", s.maxMessage())})
			return err
		}
		if len(line) > 0 {
			if reply := s.Handle(ctx, line); reply != nil {
				if _, werr := rw.Write(append(reply, '\n')); werr != nil {
					return werr
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// refuse writes the error reply, with no id, to a message refused whole.
func refuse(w io.Writer, e *Error) error {
	_, err := w.Write(append(encode(errorResponse(null, e.Code, e.Message)), '\n'))
	return err
}
