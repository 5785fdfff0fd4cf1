// Command httpserver serves a net/http ServeMux and a native route on
// cport's HTTP server: HTTP/1.1 on the loops, HTTP/2 over TLS (ALPN h2)
// with --tls, and cleartext HTTP/2 (h2c) on the plain listener.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	nethttp "net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cport/cport/http"
	"github.com/cport/cport/loop"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	tlsFiles := flag.String("tls", "", "serve HTTPS (and HTTP/2) with these PEM files: CERT,KEY")
	flag.Parse()

	// Any net/http.Handler runs through the adapter...
	mux := nethttp.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		fmt.Fprintf(w, "Hello, %s, over %s\n", r.PathValue("name"), r.Proto)
	})
	adapted := http.Adapt(mux)
	// ...and a native handler, which allocates nothing per request, can
	// take the routes that are hot.
	handler := http.HandlerFunc(func(w *http.ResponseWriter, r *http.Request) {
		if string(r.Path()) == "/plaintext" {
			w.AddHeader("Content-Type", "text/plain")
			w.WriteString("Hello, World!")
			return
		}
		adapted.ServeHTTP(w, r)
	})

	g, err := loop.NewGroup(0, loop.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()
	s := &http.Server{Handler: handler, H2C: true}
	scheme := "http"
	var bound fmt.Stringer
	if *tlsFiles != "" {
		certFile, keyFile, _ := strings.Cut(*tlsFiles, ",")
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			log.Fatal(err)
		}
		scheme = "https"
		bound, err = s.ListenTLS(g, "tcp", *addr, &tls.Config{Certificates: []tls.Certificate{cert}})
		if err != nil {
			log.Fatal(err)
		}
	} else if bound, err = s.Listen(g, "tcp", *addr); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("httpserver: listening on %s://%s\n", scheme, bound)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		log.Print(err)
	}
}
