package http

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
)

// Client is an HTTP/1.1 client on cport's flows: a net/http.RoundTripper,
// so it goes in an http.Client's Transport and everything built on that
// works unchanged. Connections live on the loops of Loops and are kept
// alive in a pool per host and loop: a request made in a flow of one of
// those loops uses (and dials) connections of that same loop, so its I/O
// runs inline; a request from a goroutine, or from a flow of a loop
// outside Loops, takes the loops in turn. Its methods are safe from
// goroutines and from flows (a flow parks where a goroutine would block).
type Client struct {
	// Loops holds the loops connections live on (required).
	Loops *loop.Group
	// DialTimeout bounds connecting; default 10 s.
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the response head after
	// the request is written; zero means none.
	ResponseHeaderTimeout time.Duration
	// Timeout bounds a whole request, body read included; zero means none.
	Timeout time.Duration
	// MaxIdlePerHost bounds the idle connections kept per host; default 4.
	MaxIdlePerHost int
	// MaxResponseHeaderBytes bounds a response head; default 64 KiB.
	MaxResponseHeaderBytes int
	// TLSConfig configures https connections; nil means the defaults,
	// which verify the server's certificate against the system's roots
	// and the URL's host name, as Go's client does. ALPN offers
	// "http/1.1" unless it sets NextProtos.
	TLSConfig *tls.Config

	once sync.Once
	pool pool
}

// maxInterimResponses bounds the 1xx responses before the final one, as
// Go's client does: a server sending them forever must not hold a request
// forever.
const maxInterimResponses = 5

// idempotent reports whether sending req twice is harmless: the methods
// RFC 9110 calls idempotent, or a request that carries an idempotency key.
func idempotent(req *nethttp.Request) bool {
	switch req.Method {
	case "", "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return req.Header.Get("Idempotency-Key") != "" || req.Header.Get("X-Idempotency-Key") != ""
}

var (
	// ErrTooManyInterimResponses: the server sent more than five 1xx
	// responses before its answer.
	ErrTooManyInterimResponses = errors.New("http: too many 1xx responses")
	// ErrResponseHeaderTimeout: the response head did not come in time.
	ErrResponseHeaderTimeout = errors.New("http: timeout awaiting response headers")
	// ErrResponseTooLarge: the response head passed MaxResponseHeaderBytes.
	ErrResponseTooLarge = errors.New("http: response head too large")
)

func (c *Client) init() {
	c.once.Do(func() {
		c.pool.maxIdle = c.MaxIdlePerHost
		if c.pool.maxIdle <= 0 {
			c.pool.maxIdle = 4
		}
		if c.DialTimeout <= 0 {
			c.DialTimeout = 10 * time.Second
		}
		if c.MaxResponseHeaderBytes <= 0 {
			c.MaxResponseHeaderBytes = 64 << 10
		}
	})
}

// CloseIdleConnections closes the pool's idle connections.
func (c *Client) CloseIdleConnections() { c.pool.closeIdle() }

// RoundTrip implements net/http.RoundTripper: it sends req and returns the
// response with its body to read. A request on a reused connection that
// fails before any response byte is retried once on a new connection when
// it has no body and is idempotent (GET, HEAD, PUT, DELETE, OPTIONS,
// TRACE, or an Idempotency-Key header), as the server may have closed the
// idle connection; a POST is never sent twice.
func (c *Client) RoundTrip(req *nethttp.Request) (*nethttp.Response, error) {
	c.init()
	if req.URL == nil || req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("http: unsupported URL %v (http:// and https:// only)", req.URL)
	}
	ctx := req.Context()
	var cancel context.CancelFunc = func() {}
	if c.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
	}
	for attempt := 0; ; attempt++ {
		resp, retry, err := c.roundTrip(ctx, cancel, req)
		if err == nil {
			return resp, nil
		}
		if !retry || attempt > 0 {
			// Read the context's state before cancel overwrites it. The
			// connection's deadline, set from the context's, is a loop
			// timer that may fire a moment before the context's own.
			ctxErr := ctx.Err()
			if ctxErr == nil && errors.Is(err, os.ErrDeadlineExceeded) {
				if dl, ok := ctx.Deadline(); ok && time.Until(dl) < time.Millisecond {
					ctxErr = context.DeadlineExceeded
				}
			}
			cancel()
			if req.Body != nil {
				req.Body.Close()
			}
			if ctxErr != nil && !errors.Is(err, ErrResponseHeaderTimeout) {
				return nil, fmt.Errorf("%w (%v)", ctxErr, err)
			}
			return nil, err
		}
	}
}

// roundTrip is one attempt; retry says a failure may be a stale pooled
// connection.
func (c *Client) roundTrip(ctx context.Context, cancel context.CancelFunc, req *nethttp.Request) (*nethttp.Response, bool, error) {
	secure := req.URL.Scheme == "https"
	host := req.URL.Host
	if req.URL.Port() == "" {
		port := "80"
		if secure {
			port = "443"
		}
		host = net.JoinHostPort(req.URL.Hostname(), port)
	}
	key := poolKey{l: c.loopFor(), host: host, tls: secure}
	cc := c.pool.get(key)
	if cc == nil {
		dctx, dcancel := context.WithTimeout(ctx, c.DialTimeout)
		conn, err := c.dial(dctx, key, req.URL.Hostname())
		dcancel()
		if err != nil {
			return nil, false, err
		}
		cc = &clientConn{key: key, conn: conn}
	}
	reused := cc.used
	cc.used = true
	// Cancellation and the whole-request timeout end blocked calls by
	// moving the deadline into the past.
	stop := context.AfterFunc(ctx, func() { cc.conn.SetDeadline(time.Unix(1, 0)) })
	if dl, ok := ctx.Deadline(); ok {
		cc.conn.SetDeadline(dl)
	} else {
		cc.conn.SetDeadline(time.Time{})
	}
	fail := func(err error, retry bool) (*nethttp.Response, bool, error) {
		stop()
		cc.conn.Close()
		return nil, retry, err
	}
	hasBody := req.Body != nil && req.Body != nethttp.NoBody
	// A request may be sent again on a new connection only if it has no
	// body to replay and sending it twice is harmless (RFC 9110 9.2.2):
	// a POST that reached a server just before it closed must not run
	// twice.
	retryable := reused && !hasBody && idempotent(req)
	if err := writeRequest(cc.conn, req, hasBody); err != nil {
		return fail(err, retryable)
	}
	if c.ResponseHeaderTimeout > 0 {
		dl := time.Now().Add(c.ResponseHeaderTimeout)
		if cdl, ok := ctx.Deadline(); !ok || dl.Before(cdl) {
			cc.conn.SetReadDeadline(dl)
		}
	}
	var h responseHead
	for interim := 0; ; interim++ {
		if interim > maxInterimResponses {
			return fail(ErrTooManyInterimResponses, false)
		}
		n, err := c.readHead(cc, &h)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && c.ResponseHeaderTimeout > 0 && ctx.Err() == nil {
				err = ErrResponseHeaderTimeout
			}
			return fail(err, retryable && n == 0 && ctx.Err() == nil)
		}
		if h.code >= 200 || h.code == 101 {
			break
		}
	}
	if dl, ok := ctx.Deadline(); ok {
		cc.conn.SetReadDeadline(dl)
	} else {
		cc.conn.SetReadDeadline(time.Time{})
	}
	resp := &nethttp.Response{
		Status:        h.status,
		StatusCode:    h.code,
		Proto:         "HTTP/1." + strconv.Itoa(h.protoMinor),
		ProtoMajor:    1,
		ProtoMinor:    h.protoMinor,
		Header:        h.header,
		ContentLength: h.clen,
		Request:       req,
		Close:         h.close || h.protoMinor == 0 && !h.keepAlive,
	}
	b := &clientBody{c: c, cc: cc, stop: stop, cancel: cancel, ctx: ctx, keep: !resp.Close && !req.Close}
	switch {
	case req.Method == "HEAD" || h.code < 200 || h.code == 204 || h.code == 304:
		resp.ContentLength = 0
		if req.Method == "HEAD" {
			resp.ContentLength = h.clen
		}
		b.remaining = 0
	case h.chunked:
		resp.TransferEncoding = []string{"chunked"}
		resp.ContentLength = -1
		b.chunked = true
	case h.clen >= 0:
		b.remaining = h.clen
	default:
		b.remaining, b.untilEOF, b.keep = -1, true, false
	}
	resp.Body = b
	if b.done() {
		b.release()
	}
	return resp, false, nil
}

// dial connects to key's host, over TLS for https, verifying the
// server's certificate for serverName.
func (c *Client) dial(ctx context.Context, key poolKey, serverName string) (net.Conn, error) {
	if !key.tls {
		return flow.Dial(ctx, key.l, "tcp", key.host)
	}
	cfg := c.TLSConfig
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg = cfg.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = serverName
	}
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = []string{"http/1.1"}
	}
	tc, err := flow.DialTLS(ctx, key.l, "tcp", key.host, cfg)
	if err != nil {
		return nil, err
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "" && p != "http/1.1" {
		tc.Close()
		return nil, fmt.Errorf("http: %s chose ALPN protocol %q; this client speaks http/1.1", key.host, p)
	}
	return tc, nil
}

// loopFor is the loop a request's connection should live on: the
// caller's own, if it is one of Loops, else the next of Loops.
func (c *Client) loopFor() *loop.Loop {
	if cur := loop.Current(); cur != nil {
		for _, l := range c.Loops.Loops() {
			if l == cur {
				return l
			}
		}
	}
	return c.Loops.Next()
}

// readHead reads until a whole response head is buffered and parses it.
// n is how many bytes had arrived when it failed.
func (c *Client) readHead(cc *clientConn, h *responseHead) (int, error) {
	if cc.off > 0 {
		cc.buf = cc.buf[:copy(cc.buf, cc.buf[cc.off:])]
		cc.off = 0
	}
	scan := 0
	for {
		end, next, perr := findHeadEnd(cc.buf, scan)
		if perr != nil {
			return len(cc.buf), errResponse
		}
		if end > 0 {
			if end > c.MaxResponseHeaderBytes {
				return len(cc.buf), ErrResponseTooLarge
			}
			cc.off = end
			return end, parseResponseHead(cc.buf[:end], h)
		}
		if len(cc.buf) > c.MaxResponseHeaderBytes {
			return len(cc.buf), ErrResponseTooLarge
		}
		scan = next
		if err := cc.fill(); err != nil {
			return len(cc.buf), err
		}
	}
}

// fill reads more input onto the end of the buffer.
func (cc *clientConn) fill() error {
	if cap(cc.buf)-len(cc.buf) < 2048 {
		nb := make([]byte, len(cc.buf), 2*cap(cc.buf)+4096)
		copy(nb, cc.buf)
		cc.buf = nb
	}
	n, err := cc.conn.Read(cc.buf[len(cc.buf):cap(cc.buf)])
	cc.buf = cc.buf[:len(cc.buf)+n]
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// writeRequest sends req's head and body: Content-Length when the length
// is known, chunked otherwise.
func writeRequest(w io.Writer, req *nethttp.Request, hasBody bool) error {
	method := req.Method
	if method == "" {
		method = "GET"
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	b := make([]byte, 0, 512)
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, req.URL.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	for k, vs := range req.Header {
		if !isTokenString(k) || equalFoldString(k, "host") || equalFoldString(k, "content-length") || equalFoldString(k, "transfer-encoding") {
			continue
		}
		for _, v := range vs {
			if !validValueString(v) {
				return fmt.Errorf("http: invalid value for header %q", k)
			}
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		b = append(b, "User-Agent: cport\r\n"...)
	}
	if req.Close {
		b = append(b, "Connection: close\r\n"...)
	}
	chunked := hasBody && req.ContentLength <= 0
	switch {
	case chunked:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	case hasBody || req.ContentLength > 0 || method == "POST" || method == "PUT" || method == "PATCH":
		b = appendContentLength(b, max(req.ContentLength, 0))
	}
	b = append(b, "\r\n"...)
	if !hasBody {
		_, err := w.Write(b)
		return err
	}
	defer req.Body.Close()
	if !chunked {
		if _, err := w.Write(b); err != nil {
			return err
		}
		n, err := io.CopyN(w, req.Body, req.ContentLength)
		if err == io.EOF && n < req.ContentLength {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	buf := make([]byte, 32<<10)
	for {
		n, rerr := req.Body.Read(buf[:cap(buf)-16])
		if n > 0 {
			b = appendChunkHeader(b, n)
			b = append(b, buf[:n]...)
			b = append(b, "\r\n"...)
		}
		if rerr == io.EOF {
			b = append(b, "0\r\n\r\n"...)
		}
		if len(b) > 0 {
			if _, err := w.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// clientBody is a response body: it reads from the connection's buffer
// first, decodes chunked framing, and gives the connection back to the
// pool when the body ends cleanly.
type clientBody struct {
	c         *Client
	cc        *clientConn
	ctx       context.Context
	stop      func() bool
	cancel    context.CancelFunc
	remaining int64 // -1: until EOF or chunked
	chunked   bool
	untilEOF  bool
	dec       chunkedDecoder
	keep      bool
	err       error
	released  bool
}

func (b *clientBody) done() bool {
	if b.chunked {
		return b.dec.state == chunkDone
	}
	return b.remaining == 0
}

func (b *clientBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.released || b.done() {
		b.release()
		return 0, io.EOF
	}
	cc := b.cc
	for {
		avail := cc.buf[cc.off:]
		var n int
		switch {
		case b.chunked:
			consumed, k, err := b.dec.decode(avail, p, 1<<62)
			cc.off += consumed
			n = k
			if err != nil {
				b.fail(err)
				if n == 0 {
					return 0, b.err
				}
				return n, nil
			}
		case b.untilEOF:
			n = copy(p, avail)
			cc.off += n
		default:
			n = int(min(int64(len(avail)), int64(len(p)), b.remaining))
			copy(p, avail[:n])
			cc.off += n
			b.remaining -= int64(n)
		}
		if b.done() {
			b.release()
			if n == 0 {
				return 0, io.EOF
			}
		}
		if n > 0 || len(p) == 0 {
			return n, nil
		}
		cc.buf, cc.off = cc.buf[:0], 0
		if err := cc.fill(); err != nil {
			if b.untilEOF && err == io.EOF {
				b.release()
				return 0, io.EOF
			}
			if b.ctx.Err() != nil {
				err = b.ctx.Err()
			} else if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			b.fail(err)
			return 0, b.err
		}
	}
}

func (b *clientBody) fail(err error) {
	b.err, b.keep = err, false
	b.release()
}

// release ends the request: the connection goes back to the pool after a
// clean, complete body, or is closed.
func (b *clientBody) release() {
	if b.released {
		return
	}
	b.released = true
	b.stop()
	b.cancel()
	if b.keep && b.done() && b.err == nil {
		b.cc.conn.SetDeadline(time.Time{})
		b.c.pool.put(b.cc)
		return
	}
	b.cc.conn.Close()
}

// Close implements io.Closer; a body closed before its end closes the
// connection rather than read the rest.
func (b *clientBody) Close() error {
	if b.err == nil && !b.released {
		b.err = errors.New("http: read on closed response body")
		b.keep = false
	}
	b.release()
	return nil
}
