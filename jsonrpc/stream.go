package jsonrpc

import (
	"bufio"
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

// ServeConn answers the newline-delimited messages read from rw, one at a
// time and in order, until rw ends (nil) or fails. In a flow with a
// flow.Conn it parks the flow between messages; an idle connection then
// costs its flow and read buffer. A message over MaxMessage gets a -32600
// error reply, then the stream is closed (ErrMessageTooLarge); a peer
// silent for IdleTimeout ends it, when rw has read deadlines.
func (s *Server) ServeConn(ctx context.Context, rw io.ReadWriter) error {
	br := bufio.NewReaderSize(rw, 4096)
	dl, _ := rw.(interface{ SetReadDeadline(time.Time) error })
	idle := s.idleTimeout()
	for {
		if dl != nil && idle > 0 {
			dl.SetReadDeadline(time.Now().Add(idle))
		}
		line, err := readLine(br, s.maxMessage())
		if err == ErrMessageTooLarge {
			reply := encode(errorResponse(null, CodeInvalidRequest, fmt.Sprintf("invalid request: message over %d bytes", s.maxMessage())))
			rw.Write(append(reply, '\n'))
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

// readLine reads one message up to its newline, of at most limit bytes.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var msg []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(msg)+len(frag) > limit {
			return nil, ErrMessageTooLarge
		}
		msg = append(msg, frag...)
		if err != bufio.ErrBufferFull {
			return msg, err
		}
	}
}
