package http_test

import (
	"bytes"
	"io"
	"net"
	nethttp "net/http"
	"testing"
	"time"

	cphttp "github.com/cport/cport/http"
)

// benchRoundTrips measures keep-alive request/response round trips over
// one raw connection. The client side (a net.Conn with fixed buffers)
// allocates nothing, so allocs/op is the server's.
func benchRoundTrips(b *testing.B, addr string) {
	req := []byte("GET /plaintext HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 4096)
	// The first response fixes the size (the Date field's length is
	// constant), so each later one is read with one ReadFull.
	c.Write(req)
	c.SetReadDeadline(time.Now().Add(time.Second))
	n, _ := c.Read(buf)
	if !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 200 OK")) {
		b.Fatalf("response %q", buf[:n])
	}
	size := n
	c.SetReadDeadline(time.Time{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf[:size]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkServerNative(b *testing.B) {
	_, addr := startServer(b, hello, cphttp.Limits{})
	benchRoundTrips(b, addr)
}

func BenchmarkServerAdapter(b *testing.B) {
	_, addr := startServer(b, cphttp.Adapt(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello, World!")
	})), cphttp.Limits{})
	benchRoundTrips(b, addr)
}

// BenchmarkNetHTTP is the same round trip against Go's net/http server,
// for the ratio.
func BenchmarkNetHTTP(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &nethttp.Server{Handler: nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello, World!")
	})}
	go srv.Serve(ln)
	defer srv.Close()
	benchRoundTrips(b, ln.Addr().String())
}
