// Package http is an HTTP/1.1 server and client on cport's transports.
//
// The server parses requests from whatever bytes a connection's
// DataReceived delivers, so a connection waiting for its next request
// holds no goroutine and no flow: only its transport and, while a partial
// request is buffered, a read buffer. Once a request head is complete, a
// worker flow of the connection's loop runs the handler as plain
// sequential Go: reading the body parks the flow until bytes arrive, and
// the response is written through the transport. Workers are pooled per
// loop and requests and responses are reused per connection, so the native
// Handler costs no allocation per request.
//
// Requests on one connection are served one at a time, in order, so
// pipelined requests are answered in the order they came. Keep-alive,
// chunked bodies both ways, Expect: 100-continue, HEAD and HTTP/1.0 are
// handled; every size and time has a limit (see Limits) and the framing
// rules of RFC 9112 that defend against request smuggling are enforced
// with a 400.
//
// Adapt serves any net/http.Handler on the same machinery.
//
// HTTP/2 is served by golang.org/x/net/http2 on the connections that
// choose it: over TLS (ALPN "h2", on unless Server.DisableHTTP2) and, with
// Server.H2C, in cleartext (prior knowledge or Upgrade: h2c). Such a
// connection is handed to a goroutine running x/net/http2's ServeConn;
// HTTP/1.1 connections keep to the loop. The same Handler serves both:
// a native one in a flow of the connection's loop, one made by Adapt as
// the net/http.Handler it wraps.
package http
