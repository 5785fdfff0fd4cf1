package jsonrpc

import (
	"bufio"
	"context"
	"errors"
	"io"
)

// MaxMessage bounds one newline-delimited message on a stream.
const MaxMessage = 1 << 20

// ErrMessageTooLarge: a stream message passed MaxMessage.
var ErrMessageTooLarge = errors.New("jsonrpc: message too large")

// ServeConn answers the newline-delimited messages read from rw, one at a
// time and in order, until rw ends (nil) or fails. In a flow with a
// flow.Conn it parks the flow between messages; an idle connection then
// costs its flow and read buffer.
func (s *Server) ServeConn(ctx context.Context, rw io.ReadWriter) error {
	br := bufio.NewReaderSize(rw, 4096)
	for {
		line, err := readLine(br)
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

// readLine reads one message up to its newline, bounded by MaxMessage.
func readLine(br *bufio.Reader) ([]byte, error) {
	var msg []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(msg)+len(frag) > MaxMessage {
			return nil, ErrMessageTooLarge
		}
		msg = append(msg, frag...)
		if err != bufio.ErrBufferFull {
			return msg, err
		}
	}
}
