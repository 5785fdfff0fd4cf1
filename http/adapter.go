package http

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
)

// ErrHandlerReturned: a write or flush through Adapt's ResponseWriter
// after the handler returned; the response is over.
var ErrHandlerReturned = errors.New("http: response written after its handler returned")

// Adapt serves a net/http.Handler (a ServeMux, middleware, any framework
// built on the standard interface) on cport. Each request gets a fresh
// *http.Request and header map, as net/http gives it; the body, the
// response and the framing are the native server's.
//
// The handler runs in a flow. Its ResponseWriter may also be used from
// goroutines it starts (httputil.ReverseProxy flushes from one, an SSE
// handler may write from several): their calls are copied and handed, in
// order, to a flow of the handler's loop, which makes them one at a time
// with the handler's own, so no write is ever torn or interleaved. Such a
// goroutine waits only when it has more than foreignQueueLimit bytes
// waiting; a failure of its calls is returned by its next one. Whatever
// they handed over before the handler returns is sent before the response
// ends; later calls fail with ErrHandlerReturned. (A handler that waits
// for its goroutines does so with flow.Blocking, not by blocking its
// loop's thread.) http.Hijacker is offered (see ResponseWriter.Hijack).
// On HTTP/2 connections (Server.H2C, or TLS's h2) x/net/http2 calls h
// itself, in each stream's goroutine, as Go's own server does.
func Adapt(h http.Handler) Handler { return adapted{h} }

// adapted is Adapt's Handler. The server finds h in it to serve HTTP/2
// streams: x/net/http2 calls h directly, in the stream's goroutine, as
// Go's own server does.
type adapted struct{ h http.Handler }

func (a adapted) ServeHTTP(w *ResponseWriter, r *Request) {
	req, err := toNetRequest(r)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	aw := &adaptedWriter{w: w, h: make(http.Header), l: w.loop(), ctx: r.Context()}
	a.h.ServeHTTP(aw, req)
	aw.finish()
}

// toNetRequest builds the net/http view of r.
func toNetRequest(r *Request) (*http.Request, error) {
	target := string(r.Target)
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, len(r.fields))
	for _, f := range r.fields {
		k := http.CanonicalHeaderKey(string(f.Name))
		h[k] = append(h[k], string(f.Value))
	}
	req := &http.Request{
		Method:        string(r.Method),
		URL:           u,
		Proto:         "HTTP/" + strconv.Itoa(r.ProtoMajor) + "." + strconv.Itoa(r.ProtoMinor),
		ProtoMajor:    r.ProtoMajor,
		ProtoMinor:    r.ProtoMinor,
		Header:        h,
		ContentLength: r.ContentLength,
		Host:          string(r.Host),
		RemoteAddr:    r.RemoteAddr().String(),
		RequestURI:    target,
		Close:         r.ProtoMajor == 1 && (r.close || r.ProtoMinor == 0 && !r.keepAlive),
		Body:          http.NoBody,
		TLS:           r.TLS(),
	}
	if r.chunked {
		req.TransferEncoding = []string{"chunked"}
	}
	if r.chunked || r.ContentLength > 0 {
		req.Body = bodyReader{r}
	}
	h.Del("Host")
	return req.WithContext(r.Context()), nil
}

// bodyReader is the request body as an io.ReadCloser.
type bodyReader struct{ r *Request }

func (b bodyReader) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b bodyReader) Close() error               { return nil }

// adaptedWriter is an http.ResponseWriter and http.Flusher over a native
// ResponseWriter.
type adaptedWriter struct {
	w        *ResponseWriter
	h        http.Header
	l        *loop.Loop      // the handler's
	ctx      context.Context // the handler's flow's, for a.mu
	mu       flow.Mutex      // one call at a time on w: the handler's, or the drainer's
	code     int
	written  bool // header handed to w
	returned bool // the handler returned: the response is over

	// Calls from goroutines other than the handler's flow, for the
	// drainer flow; fmu guards them (held briefly, never across a wait
	// for the loop).
	fmu      sync.Mutex
	room     sync.Cond // signalled as the drainer takes bytes off
	foreign  []foreignCall
	fbytes   int
	draining bool
	ferr     error // the first failure of a foreign call, for the next one
}

// foreignCall is a call handed over by another goroutine: n bytes it
// copied, and the call itself, run on the handler's loop.
type foreignCall struct {
	n  int
	op func() error
}

// foreignQueueLimit is how many bytes goroutines may have handed over and
// not yet sent before they wait.
const foreignQueueLimit = 1 << 20

// serialize runs op on w: at once (under a.mu) in a flow of the handler's
// loop, else handed to the drainer flow; a goroutine gets the error of an
// earlier call of its kind, not of this one.
func (a *adaptedWriter) serialize(n int, op func() error) error {
	if a.l.InLoop() {
		if err := a.mu.Lock(a.ctx); err != nil {
			return err
		}
		defer a.mu.Unlock()
		return op()
	}
	a.fmu.Lock()
	defer a.fmu.Unlock()
	if a.room.L == nil {
		a.room.L = &a.fmu
	}
	for a.fbytes > foreignQueueLimit && a.ferr == nil {
		a.room.Wait()
	}
	if a.ferr != nil {
		return a.ferr
	}
	a.foreign = append(a.foreign, foreignCall{n, op})
	a.fbytes += n
	if !a.draining {
		a.draining = true
		flow.Go(a.l, func(f *flow.Flow) { a.drain(f.Context(), true) })
	}
	return nil
}

// drain runs the goroutines' calls in order, in a flow of the handler's
// loop. The drainer flow (last) stops when none is left; the handler's
// flow drains once more when it returns.
func (a *adaptedWriter) drain(ctx context.Context, last bool) {
	for {
		a.fmu.Lock()
		calls := a.foreign
		a.foreign = nil
		if len(calls) == 0 {
			if last {
				a.draining = false
			}
			a.fmu.Unlock()
			return
		}
		a.fmu.Unlock()
		if err := a.mu.Lock(ctx); err != nil {
			a.fail(err, calls)
			return
		}
		for i, c := range calls {
			if err := c.op(); err != nil {
				a.mu.Unlock()
				a.fail(err, calls[i:])
				return
			}
		}
		a.mu.Unlock()
		a.taken(calls)
	}
}

// taken gives back the room calls held.
func (a *adaptedWriter) taken(calls []foreignCall) {
	a.fmu.Lock()
	for _, c := range calls {
		a.fbytes -= c.n
	}
	if a.room.L != nil {
		a.room.Broadcast()
	}
	a.fmu.Unlock()
}

// fail records a foreign call's failure and drops what is queued.
func (a *adaptedWriter) fail(err error, calls []foreignCall) {
	a.taken(calls)
	a.fmu.Lock()
	if a.ferr == nil {
		a.ferr = err
	}
	for _, c := range a.foreign {
		a.fbytes -= c.n
	}
	a.foreign = nil
	a.draining = false
	if a.room.L != nil {
		a.room.Broadcast()
	}
	a.fmu.Unlock()
}

// Hijack implements http.Hijacker: see ResponseWriter.Hijack. The
// returned ReadWriter wraps the connection, for callers that want one.
// Call it from the handler's goroutine (its flow).
func (a *adaptedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if loop.Current() != a.l {
		return nil, nil, ErrHijackOffLoop
	}
	if err := a.mu.Lock(a.ctx); err != nil {
		return nil, nil, err
	}
	defer a.mu.Unlock()
	conn, err := a.w.Hijack()
	if err != nil {
		return nil, nil, err
	}
	a.returned = true // later writes through a are refused
	return conn, bufio.NewReadWriter(bufio.NewReader(conn), bufio.NewWriter(conn)), nil
}

// finish ends the response in the handler's flow: what goroutines handed
// over goes out first.
func (a *adaptedWriter) finish() {
	a.drain(a.ctx, false)
	_ = a.serialize(0, func() error {
		a.writeHeader()
		a.returned = true
		return nil
	})
}

func (a *adaptedWriter) Header() http.Header { return a.h }

// WriteHeader sets the status; a 1xx other than 100 is sent at once with
// the header so far, as net/http does (101 before a Hijack, 103).
func (a *adaptedWriter) WriteHeader(code int) {
	_ = a.serialize(0, func() error {
		if code > 100 && code < 200 && !a.written {
			return a.w.WriteInterim(code, a.h)
		}
		if a.code == 0 && !a.written {
			a.code = code
		}
		return nil
	})
}

// writeHeader copies the header map to the native writer on the first
// write, as net/http fixes the header then.
func (a *adaptedWriter) writeHeader() { a.writeHeaderFor(nil) }

func (a *adaptedWriter) writeHeaderFor(p []byte) {
	if a.written {
		return
	}
	a.written = true
	if a.code == 0 {
		a.code = http.StatusOK
	}
	a.w.WriteHeader(a.code)
	if _, ok := a.h["Content-Type"]; !ok && len(p) > 0 && a.code != http.StatusNoContent && a.code != http.StatusNotModified {
		a.h.Set("Content-Type", http.DetectContentType(p))
	}
	for k, vs := range a.h {
		for _, v := range vs {
			a.w.AddHeader(k, v)
		}
	}
}

func (a *adaptedWriter) Write(p []byte) (int, error) {
	if !a.l.InLoop() {
		p = bytes.Clone(p) // the caller may reuse p once Write returns
	}
	err := a.serialize(len(p), func() error {
		if a.returned {
			return ErrHandlerReturned
		}
		a.writeHeaderFor(p)
		_, err := a.w.Write(p)
		return err
	})
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteString lets io.WriteString skip a conversion.
func (a *adaptedWriter) WriteString(s string) (int, error) {
	err := a.serialize(len(s), func() error {
		if a.returned {
			return ErrHandlerReturned
		}
		if !a.written {
			a.writeHeaderFor([]byte(s))
		}
		_, err := a.w.WriteString(s)
		return err
	})
	if err != nil {
		return 0, err
	}
	return len(s), nil
}

// Flush implements http.Flusher.
func (a *adaptedWriter) Flush() {
	_ = a.serialize(0, func() error {
		if a.returned {
			return nil
		}
		a.writeHeader()
		return a.w.Flush()
	})
}

var _ io.StringWriter = (*adaptedWriter)(nil)
