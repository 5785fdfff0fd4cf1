//lint:file-ignore SA1019 x/net/http2 deprecates its server for net/http's, which serves only its own listeners; ServeConn is how a connection the loop accepted, and adopted, is served HTTP/2.

package http

import (
	"bufio"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	nethttp "net/http"
	"sync"

	"golang.org/x/net/http2"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
	"github.com/cport/cport/transport"
)

// HTTP/2 is served by golang.org/x/net/http2 on the connections that
// choose it; HTTP/1.1 connections stay on the loop as before, with no
// goroutine. A connection that chooses h2 (ALPN on TLS, or H2C's
// preface or Upgrade on plain TCP) is adopted as a flow.Conn, and a
// goroutine runs x/net/http2's ServeConn on it: HTTP/2 multiplexes
// streams on one connection, each stream a goroutine there, which is
// that package's design and what users of Go's own server expect.
//
// The streams' handler is the server's Handler: one made by Adapt runs
// as the net/http.Handler it wraps, directly in the stream's goroutine; a
// native one runs in a flow of the connection's loop, as it does on
// HTTP/1.1 (h2native.go).

// h2State is the server's HTTP/2 side: one x/net/http2 server for every
// connection that speaks it, and those connections, for Shutdown and
// Close.
type h2State struct {
	once sync.Once
	srv  *http2.Server
	// base carries the limits and the HTTP2 config to x/net/http2; its
	// Shutdown starts x/net/http2's graceful one (GOAWAY on every
	// connection).
	base *nethttp.Server

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup // the ServeConn goroutines
}

// h2Server returns the x/net/http2 server, made on first use from s's
// limits.
func (s *Server) h2Server() *http2.Server {
	h := &s.h2
	h.once.Do(func() {
		h.srv = &http2.Server{IdleTimeout: s.lim.IdleTimeout}
		// A peer that reads none of its responses is cut off after
		// SendTimeout, as on HTTP/1.1, unless HTTP2 says otherwise.
		conf := nethttp.HTTP2Config{WriteByteTimeout: s.lim.SendTimeout}
		if s.HTTP2 != nil {
			conf = *s.HTTP2
			if conf.WriteByteTimeout == 0 {
				conf.WriteByteTimeout = s.lim.SendTimeout
			}
		}
		lg := s.Logger
		if lg == nil {
			lg = slog.Default()
		}
		h.base = &nethttp.Server{
			MaxHeaderBytes:    s.lim.MaxHeaderBytes,
			ReadHeaderTimeout: s.lim.ReadHeaderTimeout,
			IdleTimeout:       s.lim.IdleTimeout,
			HTTP2:             &conf,
			// x/net/http2's reports (a bad preface, a handler's panic)
			// go where the server's own do.
			ErrorLog: slog.NewLogLogger(lg.Handler(), slog.LevelWarn),
		}
		// ConfigureServer is how x/net/http2 hears of base's Shutdown.
		_ = http2.ConfigureServer(h.base, h.srv)
	})
	return h.srv
}

// negotiatedH2 reports whether t is a TLS connection whose client chose
// h2 (ALPN), which the server offered.
func (s *Server) negotiatedH2(t transport.Transport) bool {
	if s.DisableHTTP2 {
		return false
	}
	cs, ok := t.(interface{ ConnectionState() tls.ConnectionState })
	return ok && cs.ConnectionState().NegotiatedProtocol == http2.NextProtoTLS
}

// serveH2 hands t over to x/net/http2, on t's loop: its reads begin with
// buffered. opts carries an h2c upgrade's request, if any (nil: none).
func (s *Server) serveH2(t transport.Transport, buffered []byte, opts *http2.ServeConnOpts) error {
	srv := s.h2Server()
	if opts == nil {
		opts = &http2.ServeConnOpts{}
	}
	fc, err := flow.Adopt(t, buffered)
	if err != nil {
		return err
	}
	bc := &h2Conn{Conn: fc, r: bufio.NewReaderSize(fc, h2ReadBuffer)}
	var nc net.Conn = bc
	if cs, ok := t.(interface{ ConnectionState() tls.ConnectionState }); ok {
		// x/net/http2 checks the TLS version and cipher suite and fills
		// Request.TLS from this.
		nc = &tlsStateConn{bc, cs.ConnectionState()}
	}
	if !s.h2.add(nc) {
		_ = fc.Close()
		return ErrServerClosed
	}
	opts.BaseConfig = s.h2.base
	opts.Handler = s.h2Handler(t.Loop(), fc.RemoteAddr())
	go func() {
		defer s.h2.remove(nc)
		srv.ServeConn(nc, opts)
	}()
	return nil
}

// h2Handler is the net/http.Handler the streams of a connection on l
// run: Adapt's own handler, or the bridge to a native one.
func (s *Server) h2Handler(l *loop.Loop, remote net.Addr) nethttp.Handler {
	if a, ok := s.Handler.(adapted); ok {
		return s.limitBody(a.h)
	}
	return s.limitBody(&nativeH2{s: s, l: l, remote: remote})
}

// limitBody applies Limits.MaxBodyBytes to HTTP/2 requests as the
// HTTP/1.1 server does: a larger declared length is answered 413 before
// the handler runs, and a body that grows past it fails the handler's
// Read (net/http's MaxBytesError; ErrBodyTooLarge for a native handler).
func (s *Server) limitBody(h nethttp.Handler) nethttp.Handler {
	limit := s.lim.MaxBodyBytes
	return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if r.ContentLength > limit {
			nethttp.Error(w, errBodyTooLarge.msg, errBodyTooLarge.code)
			return
		}
		r.Body = nethttp.MaxBytesReader(w, r.Body, limit)
		h.ServeHTTP(w, r)
	})
}

// h2ReadBuffer is what an HTTP/2 connection reads ahead: a frame of the
// default maximum size and its header.
const h2ReadBuffer = 16<<10 + 9

// h2Conn is an adopted connection as x/net/http2 reads it: through a
// buffer, since each Read of a flow.Conn from a goroutine is a trip to
// the loop and x/net/http2 reads a frame's header and payload apart.
type h2Conn struct {
	*flow.Conn
	r *bufio.Reader
}

// Read reads from the buffer, which reads from the connection.
func (c *h2Conn) Read(p []byte) (int, error) { return c.r.Read(p) }

// tlsStateConn is an adopted TLS connection that tells its TLS state.
type tlsStateConn struct {
	*h2Conn
	cs tls.ConnectionState
}

// ConnectionState is the connection's TLS state.
func (c *tlsStateConn) ConnectionState() tls.ConnectionState { return c.cs }

// add records a connection, unless the server is closing.
func (h *h2State) add(c net.Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	if h.conns == nil {
		h.conns = make(map[net.Conn]struct{})
	}
	h.conns[c] = struct{}{}
	h.wg.Add(1)
	return true
}

func (h *h2State) remove(c net.Conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
	h.wg.Done()
}

// count is how many connections are still serving HTTP/2.
func (h *h2State) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// shutdown refuses new connections and asks the open ones to end after
// their streams (GOAWAY).
func (h *h2State) shutdown() {
	h.mu.Lock()
	h.closed = true
	base := h.base
	h.mu.Unlock()
	if base != nil {
		// base serves no listener of its own: its Shutdown only runs
		// x/net/http2's hook, and returns.
		_ = base.Shutdown(context.Background())
	}
}

// closeAll closes every connection and waits for their ServeConn to
// return.
func (h *h2State) closeAll() {
	h.mu.Lock()
	h.closed = true
	for c := range h.conns {
		_ = c.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
}
