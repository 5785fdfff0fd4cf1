// Package streamtest holds what the stream tests of several packages
// share.
package streamtest

import (
	"io"
	"net"
	"time"
)

// ReadToEnd reads c to its end and returns the bytes and how the stream
// ended: nil for a clean end of stream, else the error. It fails with a
// timeout only if no byte arrives for stall: the guard is against a hang,
// not a slow machine, so each read that brings bytes moves the deadline.
func ReadToEnd(c net.Conn, stall time.Duration) ([]byte, error) {
	var out []byte
	buf := make([]byte, 256<<10)
	for {
		c.SetReadDeadline(time.Now().Add(stall))
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		switch {
		case err == io.EOF:
			return out, nil
		case err != nil:
			return out, err
		}
	}
}
