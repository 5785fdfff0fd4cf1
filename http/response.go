package http

import (
	"context"
	"errors"
	"fmt"
	"net"
	nethttp "net/http"
	"strconv"

	"github.com/cport/cport/loop"
)

// flushSize is how much body a response buffers before it starts
// sending: a response that fits goes out in one write with a
// Content-Length; a larger one is streamed (chunked on HTTP/1.1).
const flushSize = 32 << 10

// ErrConnClosed is returned by writes to a response whose connection has
// gone.
var ErrConnClosed = fmt.Errorf("http: connection closed: %w", net.ErrClosed)

// ResponseWriter builds the response to one request. Like the Request,
// it is reused for the connection's next request.
type ResponseWriter struct {
	c          *conn
	st         *h2Stream // the HTTP/2 stream it answers, instead of c
	r          *Request
	status     int
	hdrs       []byte // the handler's fields, "Name: value\r\n" each
	body       []byte // buffered body, not yet sent
	clen       int64  // Content-Length the handler set, or -1
	written    int64
	started    bool // head sent
	chunked    bool
	closeAfter bool
	hasDate    bool // the handler set Date: the server adds none
	hijacked   bool // Hijack took the connection: write nothing more
}

func (w *ResponseWriter) reset(r *Request) {
	hdrs := w.hdrs[:0]
	*w = ResponseWriter{c: w.c, r: r, hdrs: hdrs, clen: -1}
	w.closeAfter = r.close || r.ProtoMinor == 0 && !r.keepAlive
}

// WriteHeader sets the status code; it has no effect once the response
// has begun to be sent. The default is 200.
func (w *ResponseWriter) WriteHeader(code int) {
	if !w.started && code >= 100 && code <= 999 {
		w.status = code
	}
}

// AddHeader adds a response header field. Content-Length is taken as the
// declared body length; Connection: close closes the connection after
// the response; Transfer-Encoding is the server's to choose and is
// ignored, as is any field with CR, LF or NUL (header injection) or an
// invalid name.
func (w *ResponseWriter) AddHeader(name, value string) {
	if w.started || !isTokenString(name) || !validValueString(value) {
		return
	}
	if w.st != nil {
		w.st.addHeader(w, name, value)
		return
	}
	switch {
	case equalFoldString(name, "content-length"):
		if n, err := strconv.ParseInt(value, 10, 64); err == nil && n >= 0 {
			w.clen = n
		}
		return
	case equalFoldString(name, "transfer-encoding"):
		return
	case equalFoldString(name, "connection"):
		if equalFoldString(value, "close") {
			w.closeAfter = true
		}
		return
	case equalFoldString(name, "date"):
		if w.hasDate {
			return // one Date field, the first the handler gave
		}
		w.hasDate = true
	}
	w.hdrs = append(w.hdrs, name...)
	w.hdrs = append(w.hdrs, ": "...)
	w.hdrs = append(w.hdrs, value...)
	w.hdrs = append(w.hdrs, "\r\n"...)
}

// Write adds p to the body. It does not block unless the buffered body
// passes flushSize, when it sends and parks the flow while the peer is
// slow to read.
func (w *ResponseWriter) Write(p []byte) (int, error) {
	if err := w.writable(); err != nil {
		return 0, err
	}
	if w.status == 0 {
		w.status = 200
	}
	w.written += int64(len(p))
	if w.bodyless() {
		return len(p), nil
	}
	if w.body == nil {
		w.body = w.getBuf()
	}
	w.body = append(w.body, p...)
	if len(w.body) >= flushSize {
		return len(p), w.flush(w.r.ctx, false)
	}
	return len(p), nil
}

// WriteString is Write for a string, without a conversion's allocation.
func (w *ResponseWriter) WriteString(s string) (int, error) {
	if err := w.writable(); err != nil {
		return 0, err
	}
	if w.status == 0 {
		w.status = 200
	}
	w.written += int64(len(s))
	if w.bodyless() {
		return len(s), nil
	}
	if w.body == nil {
		w.body = w.getBuf()
	}
	w.body = append(w.body, s...)
	if len(w.body) >= flushSize {
		return len(s), w.flush(w.r.ctx, false)
	}
	return len(s), nil
}

// Flush sends the head and the body written so far.
func (w *ResponseWriter) Flush() error {
	if err := w.writable(); err != nil {
		return err
	}
	return w.flush(w.r.ctx, false)
}

// writable says why the response can take no more, or nil.
func (w *ResponseWriter) writable() error {
	if w.hijacked {
		return ErrHijacked
	}
	if w.st != nil {
		return w.st.writable()
	}
	if w.c.lost {
		return ErrConnClosed
	}
	return nil
}

// getBuf is a buffer for the body: the loop's pool serves HTTP/1.1; an
// HTTP/2 stream's body is handed to another goroutine, so it has its own.
func (w *ResponseWriter) getBuf() []byte {
	if w.st != nil {
		return make([]byte, 0, bufSize)
	}
	return w.c.ls.getBuf()
}

// loop is the loop the handler runs on.
func (w *ResponseWriter) loop() *loop.Loop {
	if w.st != nil {
		return w.st.l
	}
	return w.c.ls.l
}

// bodyless reports whether the response carries no body: HEAD, 1xx, 204
// and 304 (RFC 9110 6.4.1).
func (w *ResponseWriter) bodyless() bool {
	return w.r.Method[0] == 'H' && string(w.r.Method) == "HEAD" ||
		w.status < 200 || w.status == 204 || w.status == 304
}

// finish completes the response after the handler returns.
func (w *ResponseWriter) finish(ctx context.Context) {
	if w.hijacked {
		return
	}
	c := w.c
	if w.status == 0 {
		w.status = 200
	}
	if !w.r.bodyDone() {
		c.discardBuffered()
		if !w.r.bodyDone() {
			// The rest of the body is still on its way (or was never
			// sent, after an unanswered 100-continue): closing is cheaper
			// and safer than reading it.
			w.closeAfter = true
		}
	}
	if w.r.bodyErr != nil && !w.started {
		var se *statusError
		if errors.As(w.r.bodyErr, &se) {
			w.status, w.hdrs, w.clen, w.written = se.code, w.hdrs[:0], -1, 0
			w.body = w.body[:0]
		}
		w.closeAfter = true
	}
	if c.ls.s.shutting.Load() {
		w.closeAfter = true
	}
	if !c.lost {
		_ = w.flush(ctx, true)
	}
	if w.body != nil {
		c.ls.putBuf(w.body)
		w.body = nil
	}
}

// flush sends what is buffered: the head first, with framing chosen now;
// final says the handler is done, so a body sent in one go gets a
// Content-Length.
func (w *ResponseWriter) flush(ctx context.Context, final bool) error {
	if w.status == 0 {
		w.status = 200
	}
	if w.st != nil {
		return w.st.flush(ctx, w)
	}
	c := w.c
	b := c.ls.scratch[:0]
	if !w.started {
		w.started = true
		b = w.appendHead(b, final)
	}
	var tail []byte
	if w.chunked {
		if len(w.body) > 0 {
			b = appendChunkHeader(b, len(w.body))
			tail = crlf
		}
		if final {
			if tail != nil {
				tail = crlfLastChunk
			} else {
				tail = lastChunk
			}
		}
	}
	// The pieces go out in one Writev through the loop's iovec array: a
	// variadic call would allocate its slice, since Writev is an
	// interface method.
	iov := c.ls.iov[:0]
	for _, p := range [...][]byte{b, w.body, tail} {
		if len(p) > 0 {
			iov = append(iov, p)
		}
	}
	var err error
	if len(iov) > 0 {
		err = c.t.Writev(iov...)
	}
	clear(c.ls.iov[:])
	c.ls.scratch = b
	w.body = w.body[:0]
	if err != nil {
		return err
	}
	if !final {
		return c.waitWritable(ctx)
	}
	return nil
}

var (
	crlf          = []byte("\r\n")
	lastChunk     = []byte("0\r\n\r\n")
	crlfLastChunk = []byte("\r\n0\r\n\r\n")
)

// appendHead appends the status line and fields, choosing the framing:
// Content-Length when the length is known, chunked on HTTP/1.1 otherwise,
// and the end of the connection on HTTP/1.0.
func (w *ResponseWriter) appendHead(b []byte, final bool) []byte {
	c, r := w.c, w.r
	b = appendStatusLine(b, w.status)
	if !w.hasDate {
		b = append(b, "Date: "...)
		b = append(b, c.ls.date(c.ls.l.Now())...)
		b = append(b, "\r\n"...)
	}
	b = append(b, w.hdrs...)
	noBodyStatus := w.status < 200 || w.status == 204 || w.status == 304
	switch {
	case noBodyStatus:
	case w.clen >= 0:
		b = appendContentLength(b, w.clen)
		if final && !w.bodyless() && w.clen != w.written {
			w.closeAfter = true // the body does not match its length: end here
		}
	case final:
		b = appendContentLength(b, w.written)
	case r.ProtoMinor >= 1:
		w.chunked = true
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	default:
		w.closeAfter = true
	}
	switch {
	case w.closeAfter:
		b = append(b, "Connection: close\r\n"...)
	case r.ProtoMinor == 0:
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	return append(b, "\r\n"...)
}

func appendContentLength(b []byte, n int64) []byte {
	b = append(b, "Content-Length: "...)
	b = appendInt(b, n)
	return append(b, "\r\n"...)
}

func appendInt(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }

// appendStatusLine appends "HTTP/1.1 code reason\r\n". The server
// answers HTTP/1.0 clients with 1.1 too, as RFC 9110 2.5 allows.
func appendStatusLine(b []byte, code int) []byte {
	if code == 200 {
		return append(b, "HTTP/1.1 200 OK\r\n"...)
	}
	b = append(b, "HTTP/1.1 "...)
	b = appendInt(b, int64(code))
	b = append(b, ' ')
	b = append(b, nethttp.StatusText(code)...)
	return append(b, "\r\n"...)
}

func isTokenString(s string) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChars[s[i]] {
			return false
		}
	}
	return true
}

func validValueString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func equalFoldString(a, lower string) bool {
	if len(a) != len(lower) {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
