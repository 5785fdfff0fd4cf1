package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	cphttp "github.com/cport/cport/http"
	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
	"github.com/cport/cport/transport"
)

// The routes `cport http` serves, in both handler styles:
//
//	GET  /plaintext  "Hello, World!" as text/plain
//	GET  /json       {"message":"Hello, World!"}
//	POST /echo       the request body, any size, chunked or not
//	anything else    404
const helloBody = "Hello, World!"

var helloJSON = []byte(`{"message":"Hello, World!"}`)

// nativeRoutes is the native handler: no allocation per request.
func nativeRoutes(w *cphttp.ResponseWriter, r *cphttp.Request) {
	switch string(r.Path()) {
	case "/plaintext":
		w.AddHeader("Content-Type", "text/plain")
		w.WriteString(helloBody)
	case "/json":
		w.AddHeader("Content-Type", "application/json")
		w.Write(helloJSON)
	case "/echo":
		if string(r.Method) != "POST" {
			w.WriteHeader(405)
			return
		}
		var buf [16 << 10]byte
		for {
			n, err := r.Read(buf[:])
			w.Write(buf[:n])
			if err != nil {
				return
			}
		}
	default:
		w.WriteHeader(404)
	}
}

// netHTTPRoutes is the same server as a net/http ServeMux, for the
// adapter.
func netHTTPRoutes() nethttp.Handler {
	mux := nethttp.NewServeMux()
	mux.HandleFunc("GET /plaintext", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, helloBody)
	})
	mux.HandleFunc("GET /json", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(helloJSON)
	})
	mux.HandleFunc("POST /echo", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		io.Copy(w, r.Body)
	})
	return mux
}

func runHTTP(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("http", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (HOST:PORT)")
	loops := fs.Int("loops", 0, "event loops (default GOMAXPROCS)")
	backend := fs.String("backend", "", "uring or epoll (default: CPORT_BACKEND, else the best available)")
	batchWait := fs.Duration("batch-wait", loop.DefaultBatchWait, batchWaitUsage)
	handler := fs.String("handler", "native", "native (cport's handler API), nethttp (a net/http ServeMux through the adapter) or stdlib (the same ServeMux on Go's own net/http server, for comparison)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the server's run to this file")
	share := fs.Bool("reuseport", false, "share the port with other processes that listen on it (SO_REUSEPORT); without it a port in use is an error")
	listenFD := fs.Int("listen-fd", -1, "serve on this inherited listening socket instead of --addr (systemd socket activation: 3)")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics (the loops' counters, Go's, the process's) on this address's /metrics")
	tlsFiles := fs.String("tls", "", "serve HTTPS with these PEM files: CERT,KEY (ALPN h2 and http/1.1: HTTP/2 to the clients that ask)")
	http2 := fs.Bool("http2", true, "offer HTTP/2 over TLS (ALPN h2); --http2=false serves HTTP/1.1 only")
	h2c := fs.Bool("h2c", true, "serve cleartext HTTP/2 too on a plain listener, to clients with prior knowledge (h2load, curl --http2-prior-knowledge) or that ask for Upgrade: h2c; --h2c=false for HTTP/1.1 only")
	var lim cphttp.Limits
	fs.DurationVar(&lim.ReadHeaderTimeout, "header-timeout", 0, "time from a request's first byte to the end of its head (default 10s)")
	fs.DurationVar(&lim.BodyReadTimeout, "body-timeout", 0, "how long a handler may wait for more of a request body (default 60s)")
	fs.DurationVar(&lim.SendTimeout, "send-timeout", 0, "how long a response may stall on a client that reads nothing (default 60s)")
	fs.DurationVar(&lim.IdleTimeout, "idle-timeout", 0, "how long a keep-alive connection may wait for its next request (default 60s)")
	startMemDebug := memDebugFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	startMemDebug(stdout)
	var h cphttp.Handler
	switch *handler {
	case "native":
		h = cphttp.HandlerFunc(nativeRoutes)
	case "nethttp":
		h = cphttp.Adapt(netHTTPRoutes())
	case "stdlib":
		if *listenFD >= 0 {
			return errors.New("--listen-fd is for cport's server, not --handler stdlib")
		}
		return serveStdlib(*addr, *tlsFiles, *http2, *h2c, stdout)
	default:
		return fmt.Errorf("--handler %q: want native, nethttp or stdlib", *handler)
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *loops <= 0 {
		*loops = runtime.GOMAXPROCS(0)
	}
	loop.ReserveProcs(*loops)
	g, err := loop.NewGroup(*loops, loop.Config{Port: port.Config{Backend: *backend, BatchWait: loopBatchWait(*batchWait)}})
	if err != nil {
		return err
	}
	defer g.Close()
	s := &cphttp.Server{Handler: h, Limits: lim, ListenConfig: transport.ListenConfig{SharePort: *share},
		DisableHTTP2: !*http2, H2C: *h2c}
	var listenFile *os.File
	if *listenFD >= 0 {
		listenFile = os.NewFile(uintptr(*listenFD), "listen-fd")
		defer listenFile.Close()
	}
	var bound net.Addr
	scheme, protos := "http", "http/1.1"
	if *h2c {
		protos = "http/1.1,h2c"
	}
	if *tlsFiles != "" {
		cfg, err := loadTLS(*tlsFiles)
		if err != nil {
			return err
		}
		scheme, protos = "https", "http/1.1"
		if *http2 {
			protos = "h2,http/1.1"
		}
		if listenFile != nil {
			bound, err = s.ListenFileTLS(g, listenFile, cfg)
		} else {
			bound, err = s.ListenTLS(g, "tcp", *addr, cfg)
		}
		if err != nil {
			return err
		}
	} else if listenFile != nil {
		if bound, err = s.ListenFile(g, listenFile); err != nil {
			return err
		}
	} else if bound, err = s.Listen(g, "tcp", *addr); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "http: listening on %s://%s, %d loops, %s backend, %s handler, %s, pid %d\n",
		scheme, bound, len(g.Loops()), g.Loops()[0].Backend(), *handler, protos, os.Getpid())
	stopMetrics, err := serveMetrics(*metricsAddr, g, stdout)
	if err != nil {
		return err
	}
	defer stopMetrics()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Shutdown(ctx)
}

// serveStdlib serves the routes with Go's net/http server, the baseline
// benchmarks compare against: HTTPS with tlsFiles, HTTP/2 as cport's
// server offers it (its own implementation, over TLS and as h2c).
func serveStdlib(addr, tlsFiles string, http2, h2c bool, stdout io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &nethttp.Server{Handler: netHTTPRoutes(), Protocols: new(nethttp.Protocols)}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(h2c && tlsFiles == "")
	scheme := "http"
	if tlsFiles != "" {
		cfg, err := loadTLS(tlsFiles)
		if err != nil {
			ln.Close()
			return err
		}
		srv.TLSConfig = cfg
		srv.Protocols.SetHTTP2(http2)
		scheme = "https"
	}
	fmt.Fprintf(stdout, "http: listening on %s://%s, net/http server, pid %d\n", scheme, ln.Addr(), os.Getpid())
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	if tlsFiles != "" {
		err = srv.ServeTLS(ln, "", "")
	} else {
		err = srv.Serve(ln)
	}
	if err != nethttp.ErrServerClosed {
		return err
	}
	return nil
}
