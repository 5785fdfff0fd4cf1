package http

import (
	"context"
	"errors"
	"io"
	"net"
	nethttp "net/http"
	"strconv"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
)

// nativeH2 serves the HTTP/2 streams of one connection with the server's
// native Handler. x/net/http2 calls it in each stream's goroutine; the
// handler itself runs in a flow of the connection's loop, as on
// HTTP/1.1, so it may use flow calls and share its loop's state without
// locks. The stream's goroutine waits meanwhile, and does what would
// block the loop: it reads a small body before the handler runs and
// sends the response after it returns; a larger body, a Flush or a
// response past flushSize go through flow.Blocking.
type nativeH2 struct {
	s      *Server
	l      *loop.Loop
	remote net.Addr
}

// h2Stream is one HTTP/2 request a native handler serves: the net/http
// request and response x/net/http2 gives the stream's goroutine, which
// the handler's flow borrows while that goroutine waits for it.
type h2Stream struct {
	nw     nethttp.ResponseWriter
	nr     *nethttp.Request
	l      *loop.Loop
	remote net.Addr
	early  []byte // a small body, read before the handler ran
	pre    bool   // the body is early, whole
	abort  bool   // the handler panicked after the response began
}

// ServeHTTP runs the native handler for one stream.
func (b *nativeH2) ServeHTTP(nw nethttp.ResponseWriter, nr *nethttp.Request) {
	st := &h2Stream{nw: nw, nr: nr, l: b.l, remote: b.remote}
	if n := nr.ContentLength; n == 0 || nr.Body == nil || nr.Body == nethttp.NoBody {
		st.pre = true
	} else if n > 0 && n <= gatherMax {
		buf := make([]byte, n)
		if _, err := io.ReadFull(nr.Body, buf); err != nil {
			return // the stream was reset, or its body ended short: x/net/http2 answers
		}
		st.early, st.pre = buf, true
	}
	r := &Request{st: st}
	w := &ResponseWriter{st: st}
	f := flow.Go(b.l, func(f *flow.Flow) { st.run(f, b.s, w, r) })
	if err := f.Wait(); err != nil { // the loop closed
		panic(nethttp.ErrAbortHandler)
	}
	st.finish(w)
}

// run calls the handler in its flow.
func (st *h2Stream) run(f *flow.Flow, s *Server, w *ResponseWriter, r *Request) {
	nr := st.nr
	r.ctx = f.Context()
	r.Method = []byte(nr.Method)
	r.Target = []byte(nr.RequestURI)
	if len(r.Target) == 0 {
		r.Target = []byte(nr.URL.RequestURI())
	}
	r.ProtoMajor, r.ProtoMinor = nr.ProtoMajor, nr.ProtoMinor
	r.Host = []byte(nr.Host)
	r.ContentLength = nr.ContentLength
	if r.ContentLength < 0 {
		r.ContentLength = -1
	}
	for name, values := range nr.Header {
		for _, v := range values {
			r.fields = append(r.fields, Field{Name: []byte(name), Value: []byte(v)})
		}
	}
	if st.pre && len(st.early) == 0 {
		r.bodyErr = io.EOF
	}
	*w = ResponseWriter{st: st, r: r, clen: -1}
	defer func() {
		r.done(context.Canceled)
		if v := recover(); v != nil {
			s.logPanic(st.remote, v)
			if w.started {
				st.abort = true
				return
			}
			for k := range st.nw.Header() {
				delete(st.nw.Header(), k)
			}
			*w = ResponseWriter{st: st, r: r, clen: -1, status: 500}
		}
	}()
	s.Handler.ServeHTTP(w, r)
}

// finish sends what the handler left buffered, from the stream's
// goroutine, after its flow returned.
func (st *h2Stream) finish(w *ResponseWriter) {
	if st.abort {
		panic(nethttp.ErrAbortHandler) // x/net/http2 resets the stream
	}
	if w.status == 0 {
		w.status = 200
	}
	var se *statusError
	if !w.started && errors.As(w.r.bodyErr, &se) {
		// A body past Limits.MaxBodyBytes is answered as on HTTP/1.1.
		w.status, w.clen, w.written, w.body = se.code, -1, 0, w.body[:0]
		clear(st.nw.Header())
	}
	if !w.started && w.clen < 0 && !w.bodyless() {
		w.clen = w.written
	}
	_ = st.send(w)
}

// send writes the head, if not yet sent, and the buffered body to the
// stream (off the loop: it may wait for the peer's flow-control window).
func (st *h2Stream) send(w *ResponseWriter) error {
	if !w.started {
		w.started = true
		if w.clen >= 0 && w.status >= 200 && w.status != 204 && w.status != 304 {
			st.nw.Header().Set("Content-Length", strconv.FormatInt(w.clen, 10))
		}
		st.nw.WriteHeader(w.status)
	}
	var err error
	if len(w.body) > 0 {
		_, err = st.nw.Write(w.body)
		w.body = w.body[:0]
	}
	return err
}

// flush sends the head and the buffered body from the handler's flow.
func (st *h2Stream) flush(ctx context.Context, w *ResponseWriter) error {
	return flow.Blocking(ctx, func() error {
		if err := st.send(w); err != nil {
			return err
		}
		return nethttp.NewResponseController(st.nw).Flush()
	})
}

// addHeader adds a response field. The header map is the stream
// goroutine's, which waits for the flow until the head is sent.
func (st *h2Stream) addHeader(w *ResponseWriter, name, value string) {
	switch {
	case equalFoldString(name, "content-length"):
		if n, err := strconv.ParseInt(value, 10, 64); err == nil && n >= 0 {
			w.clen = n
		}
		return
	case equalFoldString(name, "transfer-encoding"), equalFoldString(name, "connection"):
		return // HTTP/2 has no such fields (RFC 9113 8.2.2)
	}
	st.nw.Header().Add(name, value)
}

// writeInterim sends a 1xx response with header's fields.
func (st *h2Stream) writeInterim(ctx context.Context, code int, header map[string][]string) error {
	return flow.Blocking(ctx, func() error {
		h := st.nw.Header()
		saved := h.Clone()
		for name, values := range header {
			if isTokenString(name) {
				for _, v := range values {
					if validValueString(v) {
						h.Add(name, v)
					}
				}
			}
		}
		st.nw.WriteHeader(code)
		clear(h)
		for k, v := range saved {
			h[k] = v
		}
		return nil
	})
}

// errStreamGone is a write's error once the stream has ended.
var errStreamGone = errors.New("http: the HTTP/2 stream was closed")

// writable says whether the stream still takes a response.
func (st *h2Stream) writable() error {
	if st.nr.Context().Err() != nil {
		return errStreamGone
	}
	return nil
}

// watchClient ends a request context with ErrClientGone when the client
// resets the stream or the connection goes (x/net/http2 cancels the
// stream's context then; the goroutine that would cancel it on return
// waits for this flow).
func (st *h2Stream) watchClient(cancel context.CancelCauseFunc) {
	context.AfterFunc(st.nr.Context(), func() { cancel(ErrClientGone) })
}

// read reads the body: the early one, or the stream's through
// flow.Blocking (its Read waits for the peer).
func (st *h2Stream) read(r *Request, p []byte) (int, error) {
	if len(st.early) > 0 {
		n := copy(p, st.early)
		st.early = st.early[n:]
		if len(st.early) == 0 {
			r.bodyErr = io.EOF
		}
		return n, nil
	}
	if st.pre {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	err := flow.Blocking(r.ctx, func() error {
		var err error
		n, err = st.nr.Body.Read(p)
		return err
	})
	if err != nil {
		var tooLarge *nethttp.MaxBytesError
		if errors.As(err, &tooLarge) {
			err = ErrBodyTooLarge
		}
		r.bodyErr = err
		if n > 0 {
			return n, nil
		}
	}
	return n, err
}
