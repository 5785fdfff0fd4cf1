package http

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/url"
)

// Request is a parsed request as a native Handler sees it. It is reused
// for the connection's next request: the Handler must not keep it, or
// any slice it returns, after it returns.
type Request struct {
	// Method and Target are the request line's method and
	// request-target, as sent.
	Method, Target []byte
	// ProtoMajor is 1, or 2 for a request that came over HTTP/2;
	// ProtoMinor is 0 for HTTP/1.0 and 1 for HTTP/1.1 (and 0 for
	// HTTP/2).
	ProtoMajor, ProtoMinor int
	// Host is the Host field's value.
	Host []byte
	// ContentLength is the declared body length, or -1 for a chunked
	// body; 0 when there is none.
	ContentLength int64

	fields         []Field
	chunked        bool
	teSeen         bool
	close          bool
	keepAlive      bool
	expectContinue bool
	continued      bool // 100 Continue sent (or no longer useful)

	c         *conn
	st        *h2Stream               // the HTTP/2 stream it came on, instead of c
	ctx       context.Context         // the serving flow's
	reqCtx    context.Context         // Context's, made by its first call
	cancelReq context.CancelCauseFunc // ends reqCtx
	remaining int64                   // of a Content-Length body
	dec       chunkedDecoder
	bodyErr   error
}

func (r *Request) reset() {
	r.done(context.Canceled)
	fields := r.fields[:0]
	c, ctx := r.c, r.ctx
	*r = Request{fields: fields, c: c, ctx: ctx}
}

// Header returns the value of the first field named name (any case), or
// nil.
func (r *Request) Header(name string) []byte {
	for i := range r.fields {
		if equalFold(r.fields[i].Name, name) {
			return r.fields[i].Value
		}
	}
	return nil
}

// Fields lists the header fields in the order received.
func (r *Request) Fields() []Field { return r.fields }

// Query is the request-target's query, after its '?' (nil without one),
// still percent-encoded: url.ParseQuery(string(r.Query())) decodes it.
func (r *Request) Query() []byte {
	for i, c := range r.Target {
		if c == '?' {
			return r.Target[i+1:]
		}
	}
	return nil
}

// QueryValue returns the first value of key in the query, decoded, and
// whether it is there. The key is compared as sent, not decoded.
func (r *Request) QueryValue(key string) (string, bool) {
	q := r.Query()
	for len(q) > 0 {
		var pair []byte
		if i := bytes.IndexByte(q, '&'); i >= 0 {
			pair, q = q[:i], q[i+1:]
		} else {
			pair, q = q, nil
		}
		k, v, _ := bytes.Cut(pair, []byte("="))
		if string(k) == key { // no allocation: the compiler compares in place
			if bytes.ContainsAny(v, "%+") {
				s, err := url.QueryUnescape(string(v))
				return s, err == nil
			}
			return string(v), true
		}
	}
	return "", false
}

// Path is the request-target without its query.
func (r *Request) Path() []byte {
	for i, c := range r.Target {
		if c == '?' {
			return r.Target[:i]
		}
	}
	return r.Target
}

// ErrClientGone is the cause of a request's context when its client
// closed its side of the connection or the connection was lost.
var ErrClientGone = errors.New("http: the client closed the connection")

// Context is the request's context: the serving flow's (blocking flow
// calls given it park that flow), cancelled when the client goes away —
// its connection is lost, or it closes its side, as Go's net/http does —
// with ErrClientGone as the cause, and when the response is complete. It
// is made on the first call, so a handler that never asks pays nothing.
func (r *Request) Context() context.Context {
	if r.reqCtx == nil {
		r.reqCtx, r.cancelReq = context.WithCancelCause(r.ctx)
		if r.c != nil && (r.c.lost || r.c.eof) {
			r.cancelReq(ErrClientGone)
		}
		if r.st != nil {
			r.st.watchClient(r.cancelReq)
		}
	}
	return r.reqCtx
}

// done ends the request's context, if it was made, with cause.
func (r *Request) done(cause error) {
	if r.cancelReq != nil {
		r.cancelReq(cause)
	}
}

// RemoteAddr is the client's address.
func (r *Request) RemoteAddr() net.Addr {
	if r.st != nil {
		return r.st.remote
	}
	return r.c.t.RemoteAddr()
}

// TLS describes the connection's TLS session, or is nil on plain TCP.
func (r *Request) TLS() *tls.ConnectionState {
	if r.st != nil {
		return r.st.nr.TLS
	}
	if t, ok := r.c.t.(interface{ ConnectionState() tls.ConnectionState }); ok {
		cs := t.ConnectionState()
		return &cs
	}
	return nil
}

// bodyDone reports whether the whole body has been consumed.
func (r *Request) bodyDone() bool {
	if r.st != nil {
		return r.bodyErr != nil
	}
	if r.chunked {
		return r.dec.state == chunkDone
	}
	return r.remaining == 0
}

// Read reads the request body. It parks the serving flow until bytes
// arrive; the first Read of a request that asked for 100-continue sends
// the interim response first.
func (r *Request) Read(p []byte) (int, error) {
	if r.bodyErr != nil {
		return 0, r.bodyErr
	}
	if r.st != nil {
		return r.st.read(r, p)
	}
	if r.bodyDone() {
		return 0, io.EOF
	}
	c := r.c
	if r.expectContinue && !r.continued {
		r.continued = true
		if !c.w.resp.started {
			_ = c.t.Write(continue100)
		}
	}
	for {
		n, err := c.readBuffered(p)
		if n > 0 || err != nil || len(p) == 0 {
			return n, err
		}
		if c.lost || c.eof {
			r.bodyErr = errTruncatedBody
			return 0, r.bodyErr
		}
		if err := c.waitData(r.ctx); err != nil {
			return 0, err
		}
	}
}

var continue100 = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// readBuffered moves body bytes already buffered into p.
func (c *conn) readBuffered(p []byte) (int, error) {
	r := &c.w.req
	avail := c.buf[c.off:]
	if !r.chunked {
		k := int(min(int64(len(avail)), int64(len(p)), r.remaining))
		copy(p, avail[:k])
		c.consume(k)
		r.remaining -= int64(k)
		if k == 0 && r.remaining == 0 {
			return 0, io.EOF
		}
		return k, nil
	}
	consumed, n, err := r.dec.decode(avail, p, c.ls.s.lim.MaxBodyBytes)
	c.consume(consumed)
	if err != nil {
		r.bodyErr = err
		if n > 0 {
			return n, nil
		}
		return 0, err
	}
	if n == 0 && r.dec.state == chunkDone {
		return 0, io.EOF
	}
	return n, nil
}

// discardBuffered skips as much of the unread body as is buffered, so a
// handler that ignored a small body does not cost the connection.
func (c *conn) discardBuffered() {
	var scratch [512]byte
	for r := &c.w.req; !r.bodyDone() && r.bodyErr == nil; {
		n, err := c.readBuffered(scratch[:])
		if n == 0 || err != nil {
			return
		}
	}
}
