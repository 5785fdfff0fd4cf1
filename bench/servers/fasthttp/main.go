// Command fasthttp serves /plaintext and /json with valyala/fasthttp, the
// fastest widely used Go HTTP/1.1 server, as the HTTP benchmark's peer.
package main

import (
	"flag"
	"log"

	"github.com/valyala/fasthttp"
)

var (
	hello     = []byte("Hello, World!")
	helloJSON = []byte(`{"message":"Hello, World!"}`)
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()
	handler := func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/plaintext":
			ctx.SetContentType("text/plain")
			ctx.SetBody(hello)
		case "/json":
			ctx.SetContentType("application/json")
			ctx.SetBody(helloJSON)
		default:
			ctx.SetStatusCode(fasthttp.StatusNotFound)
		}
	}
	// The defaults are fasthttp's recommended settings for a server like
	// this one; the name is set only to keep the header small and equal.
	s := &fasthttp.Server{Handler: handler, Name: "fasthttp"}
	log.Fatal(s.ListenAndServe(*addr))
}
