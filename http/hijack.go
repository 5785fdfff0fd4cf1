package http

import (
	"errors"
	"net"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
)

var (
	// ErrHijacked is returned by a ResponseWriter's writes after Hijack.
	ErrHijacked = errors.New("http: connection has been hijacked")
	// ErrHijackTooLate: Hijack after the response began to be sent.
	ErrHijackTooLate = errors.New("http: Hijack after the response began")
	// ErrHijackOffLoop: Hijack from a goroutine other than the handler's
	// flow (or another flow of its loop).
	ErrHijackOffLoop = errors.New("http: Hijack off the handler's loop")
	// ErrHijackHTTP2: Hijack of a request that came over HTTP/2, whose
	// connection carries other streams.
	ErrHijackHTTP2 = errors.New("http: Hijack of an HTTP/2 stream")
)

// Hijack takes the connection over from the server, for the protocol
// that follows an Upgrade (WebSocket) or a CONNECT. It returns the
// connection as a net.Conn (a *flow.Conn on the handler's loop) whose
// reads begin with whatever the client sent after this request that the
// server had already read. The server sends nothing more on it, applies
// none of its timeouts, and forgets it: closing it is the caller's. The
// response must not have begun; the Request must not be used after.
// Call it from the handler's flow.
func (w *ResponseWriter) Hijack() (net.Conn, error) {
	c := w.c
	switch {
	case w.st != nil:
		return nil, ErrHijackHTTP2
	case w.hijacked:
		return nil, ErrHijacked
	case w.started:
		return nil, ErrHijackTooLate
	case c.lost || c.closing:
		return nil, ErrConnClosed
	case loop.Current() != c.ls.l:
		return nil, ErrHijackOffLoop
	}
	fc, err := flow.Adopt(c.t, c.buf[c.off:])
	if err != nil {
		return nil, err
	}
	w.hijacked = true
	c.closing = true
	// Not back to the pool: the request's slices still point into it.
	c.buf, c.off, c.scan = nil, 0, 0
	c.rpaused = false // Adopt resumed reading
	c.ls.untrack(c)
	return fc, nil
}

// ErrInterimNotAllowed: WriteInterim with a code outside 1xx, after the
// response began, or to an HTTP/1.0 client, which knows no 1xx.
var ErrInterimNotAllowed = errors.New("http: an interim (1xx) response is not allowed here")

// WriteInterim sends an interim response at once: code (101 Switching
// Protocols before a Hijack, 103 Early Hints) with header, a field
// name's values each on a line of its own. The final response follows
// later as usual. Fields with invalid names or values are dropped.
func (w *ResponseWriter) WriteInterim(code int, header map[string][]string) error {
	if err := w.writable(); err != nil {
		return err
	}
	if code < 100 || code > 199 || code == 100 || w.started || w.r.ProtoMajor == 1 && w.r.ProtoMinor == 0 {
		return ErrInterimNotAllowed
	}
	if w.st != nil {
		return w.st.writeInterim(w.r.ctx, code, header)
	}
	c := w.c
	b := appendStatusLine(c.ls.scratch[:0], code)
	for name, values := range header {
		if !isTokenString(name) {
			continue
		}
		for _, v := range values {
			if validValueString(v) {
				b = append(append(append(append(b, name...), ": "...), v...), "\r\n"...)
			}
		}
	}
	b = append(b, "\r\n"...)
	c.ls.scratch = b
	return c.t.Write(b)
}
