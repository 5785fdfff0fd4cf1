//lint:file-ignore SA1019 see h2.go: x/net/http2's ServeConn serves the upgraded connection.

package http

import (
	"bytes"
	"context"
	"encoding/base64"

	"golang.org/x/net/http2"
)

// Cleartext HTTP/2 (Server.H2C), the two ways RFC 7540 3.2 and 3.4 give:
// a client with prior knowledge opens with the connection preface, whose
// first 18 bytes read as a request head ("PRI * HTTP/2.0", no fields),
// which startNext finds before it would refuse it; or a client asks an
// HTTP/1.1 request to upgrade (Upgrade: h2c with HTTP2-Settings), which
// is answered 101 and becomes the first stream.

// h2Preface is the head the connection preface makes; the client sends
// "SM\r\n\r\n" after it, which x/net/http2 reads and checks.
const h2Preface = "PRI * HTTP/2.0\r\n\r\n"

// isH2Preface reports whether the ready head is HTTP/2's preface, on a
// connection that has served no request yet.
func (c *conn) isH2Preface() bool {
	return c.ls.s.H2C && !c.served && int(c.headEnd) == len(h2Preface) &&
		string(c.buf[:c.headEnd]) == h2Preface
}

// startH2C hands the connection, from its preface on, to x/net/http2.
func (c *conn) startH2C() {
	c.closing = true
	c.ls.untrack(c)
	buf := c.buf
	c.buf, c.off, c.scan = nil, 0, 0
	c.rpaused = false // Adopt resumes reading
	err := c.ls.s.serveH2(c.t, buf, nil)
	c.ls.putBuf(buf) // Adopt copied it
	if err != nil {
		_ = c.t.Close()
	}
}

var switchingToH2C = []byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")

// upgradeH2C answers a request that asks for h2c with 101 and hands the
// connection to x/net/http2, which serves the request as stream 1. It
// reports false, to serve the request over HTTP/1.1, unless the request
// asks properly, has no body (one would have to be read whole first) and
// the server takes h2c.
func (c *conn) upgradeH2C(w *worker) bool {
	r := &w.req
	if !c.ls.s.H2C || r.ProtoMinor != 1 || r.chunked || r.ContentLength != 0 ||
		!hasToken(r.Header("Upgrade"), "h2c") || !hasToken(r.Header("Connection"), "http2-settings") {
		return false
	}
	var settings []byte
	n := 0
	for _, f := range r.fields {
		if equalFold(f.Name, "http2-settings") {
			n++
			settings = f.Value
		}
	}
	if n != 1 {
		return false
	}
	decoded, err := base64.RawURLEncoding.DecodeString(string(bytes.TrimRight(settings, "=")))
	if err != nil {
		return false
	}
	// The stream outlives this request and its flow: its context is its
	// own.
	r.ctx = context.Background()
	req, err := toNetRequest(r)
	if err != nil {
		return false
	}
	// It is answered as HTTP/2's stream 1.
	req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/2.0", 2, 0
	if err := c.t.Write(switchingToH2C); err != nil {
		return false
	}
	c.closing = true
	c.ls.untrack(c)
	rest := c.buf[c.off:]
	c.rpaused = false
	err = c.ls.s.serveH2(c.t, rest, &http2.ServeConnOpts{UpgradeRequest: req, Settings: decoded})
	// Not back to the pool: the request's slices point into it.
	c.buf, c.off, c.scan = nil, 0, 0
	if err != nil {
		_ = c.t.Close()
	}
	return true
}

// hasToken reports whether the comma-separated list v holds token, in
// any case.
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var item []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			item, v = v, nil
		}
		if equalFoldString(string(bytes.TrimSpace(item)), token) {
			return true
		}
	}
	return false
}
