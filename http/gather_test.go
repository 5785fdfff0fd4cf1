package http_test

import (
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cphttp "github.com/cport/cport/http"
	"github.com/cport/cport/internal/looptest"
	"github.com/cport/cport/loop"
)

// startOneLoop serves h on a single loop, so that a round trip on one
// connection proves the loop has handled what another sent before it.
func startOneLoop(t *testing.T, h cphttp.Handler, lim cphttp.Limits) string {
	t.Helper()
	looptest.Watch(t)
	g, err := loop.NewGroup(1, loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s := &cphttp.Server{Handler: h, Limits: lim, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	addr, err := s.Listen(g, "tcp", "127.0.0.1:0")
	if err != nil {
		g.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		g.Close()
	})
	return addr.String()
}

// A small body that arrives in pieces is gathered before the handler
// runs: the handler is not entered while it is partial, and reads it
// whole.
func TestSmallBodyGatheredBeforeHandler(t *testing.T) {
	var entered atomic.Int64
	addr := startOneLoop(t, cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		if r.ContentLength > 0 {
			entered.Add(1)
		}
		b, _ := io.ReadAll(r)
		w.Write(b)
	}), cphttp.Limits{})
	c, br := rawConn(t, addr)
	body := strings.Repeat("b", 1000)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"+body[:10])
	// A whole request on another connection of the same loop: when its
	// answer is back, the loop has handled the partial one.
	if resp, _, _ := roundTrip(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != 200 {
		t.Fatalf("the other connection got %d", resp.StatusCode)
	}
	if n := entered.Load(); n != 0 {
		t.Fatalf("the handler ran %d times with 10 of 1000 body bytes here, want none", n)
	}
	io.WriteString(c, body[10:])
	resp, got, err := readResponse(br)
	if err != nil || resp.StatusCode != 200 || got != body {
		t.Fatalf("after the rest of the body: %v, %v, %d bytes", err, resp, len(got))
	}
	if n := entered.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want once", n)
	}
}

// A gathered body that stops coming is answered 408 at BodyReadTimeout
// (nginx's client_body_timeout), and one whose client ends its side
// early is answered 400 (the handler reads a truncated body).
func TestGatheredBodyEnds(t *testing.T) {
	addr := startOneLoop(t, cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		if _, err := io.ReadAll(r); err != nil {
			w.WriteHeader(599) // not what the server answers: it answers for the handler
		}
	}), cphttp.Limits{BodyReadTimeout: 200 * time.Millisecond})
	t.Run("stalls", func(t *testing.T) {
		c, br := rawConn(t, addr)
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
		resp, body, err := readResponse(br)
		if err != nil || resp.StatusCode != 408 {
			t.Fatalf("got %v, %v; want 408", resp, err)
		}
		if !strings.Contains(body, "body") {
			t.Errorf("408 body %q does not say what was late", body)
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Errorf("after the 408: %v, want the connection closed", err)
		}
	})
	t.Run("half-closed", func(t *testing.T) {
		c, br := rawConn(t, addr)
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
		if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		resp, _, err := readResponse(br)
		if err != nil || resp.StatusCode != 400 {
			t.Fatalf("got %v, %v; want 400 for a truncated body", resp, err)
		}
	})
}
