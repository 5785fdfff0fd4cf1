package http_test

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"strings"
	"testing"
	"time"

	cphttp "github.com/cport/cport/http"
	"github.com/cport/cport/internal/looptest"
	"github.com/cport/cport/loop"
)

// hangGuard bounds every wait in these tests: a guard against a hang,
// not a measure of speed.
const hangGuard = 20 * time.Second

// startServer serves h on a two-loop group on the backend CPORT_BACKEND
// names (the suite runs once per backend) and returns its address.
func startServer(t testing.TB, h cphttp.Handler, lim cphttp.Limits) (*cphttp.Server, string) {
	t.Helper()
	return startServerLoops(t, 2, h, lim)
}

// startServerLoops is startServer on a group of loops loops: one, where
// a test needs every connection on the same loop.
func startServerLoops(t testing.TB, loops int, h cphttp.Handler, lim cphttp.Limits) (*cphttp.Server, string) {
	t.Helper()
	looptest.Watch(t)
	g, err := loop.NewGroup(loops, loop.Config{})
	if err != nil {
		t.Fatalf("loop.NewGroup: %v", err)
	}
	s := &cphttp.Server{Handler: h, Limits: lim, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	addr, err := s.Listen(g, "tcp", "127.0.0.1:0")
	if err != nil {
		g.Close()
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() {
		s.Close()
		g.Close()
	})
	return s, addr.String()
}

// hello answers every request with a fixed body.
var hello = cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
	w.AddHeader("Content-Type", "text/plain")
	w.WriteString("Hello, World!")
})

// rawConn dials addr with Go's net package and bounds it with hangGuard.
func rawConn(t testing.TB, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetDeadline(time.Now().Add(hangGuard))
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// roundTrip sends raw on a new connection and reads one response.
func roundTrip(t testing.TB, addr, raw string) (*nethttp.Response, string, *bufio.Reader) {
	t.Helper()
	c, br := rawConn(t, addr)
	if _, err := c.Write([]byte(raw)); err != nil {
		t.Fatalf("write: %v", err)
	}
	resp, err := nethttp.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("ReadResponse for %q: %v", raw, err)
	}
	var sb strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&sb)
	resp.Body.Close()
	return resp, sb.String(), br
}

// readResponse reads one response and its body from br.
func readResponse(br *bufio.Reader) (*nethttp.Response, string, error) {
	resp, err := nethttp.ReadResponse(br, nil)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}
