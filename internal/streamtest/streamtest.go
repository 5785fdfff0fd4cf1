// Package streamtest holds what the stream tests of several packages
// share.
package streamtest

import (
	"errors"
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

// AcceptReset dials ln, accepts the connection and resets it from the
// dialing end (SO_LINGER 0, then close), as a peer that goes away
// abruptly: it returns the accepted end, the caller's to close, once a
// read on it has failed, and the address the peer had.
func AcceptReset(ln net.Listener) (accepted net.Conn, peer string, err error) {
	dialer, err := net.Dial(ln.Addr().Network(), ln.Addr().String())
	if err != nil {
		return nil, "", err
	}
	accepted, err = ln.Accept()
	if err != nil {
		dialer.Close()
		return nil, "", err
	}
	peer = dialer.LocalAddr().String()
	if err := dialer.(*net.TCPConn).SetLinger(0); err != nil {
		dialer.Close()
		accepted.Close()
		return nil, "", err
	}
	dialer.Close()
	if _, err := accepted.Read(make([]byte, 1)); err == nil {
		accepted.Close()
		return nil, "", errors.New("streamtest: a read after the peer's reset succeeded")
	}
	return accepted, peer, nil
}
