package http_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/cport/cport/flow"
	cphttp "github.com/cport/cport/http"
)

func TestShutdown(t *testing.T) {
	started := make(chan struct{}, 1)
	s, addr := startServer(t, cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		if string(r.Path()) == "/slow" {
			started <- struct{}{}
			flow.Sleep(r.Context(), 300*time.Millisecond) // parks the flow, not the loop
		}
		w.WriteString("done")
	}), cphttp.Limits{})

	// An idle keep-alive connection, closed at once by Shutdown.
	idle, idleBR := rawConn(t, addr)
	idle.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	if _, _, err := readResponse(idleBR); err != nil {
		t.Fatal(err)
	}
	// A request in flight, which must finish.
	busy, busyBR := rawConn(t, addr)
	busy.Write([]byte("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"))
	<-started

	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- s.Shutdown(ctx) }()

	if _, err := idleBR.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: %v, want EOF", err)
	}
	resp, body, err := readResponse(busyBR)
	if err != nil || body != "done" || !resp.Close {
		t.Fatalf("in-flight request: %v %q close=%v", err, body, resp != nil && resp.Close)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("still accepting after Shutdown")
	}
}

func TestShutdownDeadline(t *testing.T) {
	started := make(chan struct{}, 1)
	s, addr := startServer(t, cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		started <- struct{}{}
		flow.Sleep(r.Context(), hangGuard)
	}), cphttp.Limits{})
	c, br := rawConn(t, addr)
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Shutdown: %v, want DeadlineExceeded", err)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Fatalf("connection not aborted at the deadline")
	}
}
