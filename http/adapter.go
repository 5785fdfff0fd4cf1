package http

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// Adapt serves a net/http.Handler (a ServeMux, middleware, any framework
// built on the standard interface) on cport. Each request gets a fresh
// *http.Request and header map, as net/http gives it; the body, the
// response and the framing are the native server's.
//
// The handler runs in a flow: it must read the body and write the response
// from that flow, not from goroutines it starts (they would get
// flow.ErrNotInFlow); http.Hijacker and HTTP/2 are not offered.
func Adapt(h http.Handler) Handler {
	return HandlerFunc(func(w *ResponseWriter, r *Request) {
		req, err := toNetRequest(r)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		aw := &adaptedWriter{w: w, h: make(http.Header)}
		h.ServeHTTP(aw, req)
		aw.writeHeader()
	})
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
		Proto:         "HTTP/1." + strconv.Itoa(r.ProtoMinor),
		ProtoMajor:    1,
		ProtoMinor:    r.ProtoMinor,
		Header:        h,
		ContentLength: r.ContentLength,
		Host:          string(r.Host),
		RemoteAddr:    r.RemoteAddr().String(),
		RequestURI:    target,
		Close:         r.close || r.ProtoMinor == 0 && !r.keepAlive,
		Body:          http.NoBody,
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
	w       *ResponseWriter
	h       http.Header
	code    int
	written bool // header handed to w
}

func (a *adaptedWriter) Header() http.Header { return a.h }

func (a *adaptedWriter) WriteHeader(code int) {
	if a.code == 0 && !a.written {
		a.code = code
	}
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
	a.writeHeaderFor(p)
	return a.w.Write(p)
}

// WriteString lets io.WriteString skip a conversion.
func (a *adaptedWriter) WriteString(s string) (int, error) {
	if !a.written {
		return a.Write([]byte(s))
	}
	return a.w.WriteString(s)
}

// Flush implements http.Flusher.
func (a *adaptedWriter) Flush() {
	a.writeHeader()
	_ = a.w.Flush()
}

var _ io.StringWriter = (*adaptedWriter)(nil)
