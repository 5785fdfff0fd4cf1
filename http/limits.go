package http

import "time"

// Limits bounds what one request may cost the server. The zero value of a
// field means its default.
type Limits struct {
	// MaxHeaderBytes bounds the request line and header fields together;
	// a longer head is answered 431. Default 16 KiB.
	MaxHeaderBytes int
	// MaxHeaders bounds the number of header fields; more are answered
	// 431. Default 100.
	MaxHeaders int
	// MaxBodyBytes bounds a request body; a larger declared
	// Content-Length is answered 413 before the handler runs, and a
	// chunked body that grows past it fails the handler's Read with
	// ErrBodyTooLarge (and is answered 413 if the handler has not
	// responded yet). Default 10 MiB.
	MaxBodyBytes int64
	// ReadHeaderTimeout bounds the time from a request's first byte to
	// the end of its head; past it the server answers 408 and closes.
	// Default 10 s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that waits this long for
	// its next request. Default 60 s.
	IdleTimeout time.Duration
	// BodyReadTimeout bounds how long a handler waits for more of the
	// request body (nginx's client_body_timeout): past it the connection
	// is reset and the handler's Read fails. Default 60 s.
	BodyReadTimeout time.Duration
	// SendTimeout bounds how long a response may stay stalled above the
	// write buffer's high watermark, its client reading nothing (nginx's
	// send_timeout); this also bounds a client that pipelines requests and
	// never reads the answers. Past it the connection is reset. Default
	// 60 s.
	//
	// The timeouts are checked by a sweep of each loop's connections, so
	// one may fire up to an eighth of the shortest timeout late (at most a
	// second): idle connections then need no timer each.
	SendTimeout time.Duration
}

// Defaults, chosen to serve browsers and API clients (Go's net/http
// client sends a few hundred bytes of head) while keeping a hostile peer
// cheap.
const (
	defaultMaxHeaderBytes    = 16 << 10
	defaultMaxHeaders        = 100
	defaultMaxBodyBytes      = 10 << 20
	defaultReadHeaderTimeout = 10 * time.Second
	defaultIdleTimeout       = 60 * time.Second
	defaultBodyReadTimeout   = 60 * time.Second
	defaultSendTimeout       = 60 * time.Second
)

func (l Limits) withDefaults() Limits {
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = defaultMaxHeaders
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = defaultMaxBodyBytes
	}
	if l.ReadHeaderTimeout <= 0 {
		l.ReadHeaderTimeout = defaultReadHeaderTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = defaultIdleTimeout
	}
	if l.BodyReadTimeout <= 0 {
		l.BodyReadTimeout = defaultBodyReadTimeout
	}
	if l.SendTimeout <= 0 {
		l.SendTimeout = defaultSendTimeout
	}
	return l
}
