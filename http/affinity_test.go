package http_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cport/cport/flow"
	cphttp "github.com/cport/cport/http"
	"github.com/cport/cport/internal/looptest"
	"github.com/cport/cport/loop"
)

// serveOn serves h on g and returns the address; the server closes when
// the test ends.
func serveOn(t *testing.T, g *loop.Group, h cphttp.Handler) string {
	t.Helper()
	s := &cphttp.Server{Handler: h, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	addr, err := s.Listen(g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return addr.String()
}

func newGroup(t *testing.T, n int) *loop.Group {
	t.Helper()
	looptest.Watch(t)
	g, err := loop.NewGroup(n, loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// A reverse proxy in flows: its handlers call a backend through one
// pooled Client on the same group. Every handler's flow must get a
// connection it can use from its own loop, and no loop may wait for
// another; before, the proxy froze after a few hundred requests.
func TestProxyThroughPooledClient(t *testing.T) {
	g := newGroup(t, 0) // one loop per GOMAXPROCS, as the README's example
	backend := serveOn(t, g, cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		w.WriteString("backend " + string(r.Path()))
	}))
	client := &nethttp.Client{Transport: &cphttp.Client{Loops: g}}
	proxy := serveOn(t, g, cphttp.Adapt(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		resp, err := client.Get("http://" + backend + r.URL.Path)
		if err != nil {
			nethttp.Error(w, err.Error(), nethttp.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		io.Copy(w, resp.Body)
	})))
	front := &nethttp.Client{}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for worker := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				path := fmt.Sprintf("/w%d/r%d", worker, i)
				resp, err := front.Get("http://" + proxy + path)
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(body) != "backend "+path {
					errs <- fmt.Errorf("%s: got %q", path, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A handler that calls its own server through the Client on the same
// group: the inner request is served by a flow of the same loops, which
// the outer handler's flow must not block. Before, the first request froze.
func TestHandlerCallsItsOwnServer(t *testing.T) {
	g := newGroup(t, 2)
	client := &nethttp.Client{Transport: &cphttp.Client{Loops: g}}
	var self atomic.Pointer[string] // the server's own address, known once it listens
	mux := nethttp.NewServeMux()
	mux.HandleFunc("/inner", func(w nethttp.ResponseWriter, r *nethttp.Request) { io.WriteString(w, "inner") })
	mux.HandleFunc("/outer", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		resp, err := client.Get("http://" + *self.Load() + "/inner")
		if err != nil {
			nethttp.Error(w, err.Error(), nethttp.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		io.WriteString(w, "outer+")
		io.Copy(w, resp.Body)
	})
	addr := serveOn(t, g, cphttp.Adapt(mux))
	self.Store(&addr)
	for range 50 {
		resp, err := nethttp.Get("http://" + addr + "/outer")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(string(body), "outer+inner") {
			t.Fatalf("got %q", body)
		}
	}
}

// A handler served through Adapt writes and flushes from goroutines of its
// own while it writes too, as httputil.ReverseProxy's flusher and SSE
// handlers do: every line arrives whole and in its writer's order.
func TestAdaptWritesFromGoroutines(t *testing.T) {
	const writers, lines = 4, 200
	g := newGroup(t, 2)
	addr := serveOn(t, g, cphttp.Adapt(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		var wg sync.WaitGroup
		for k := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range lines {
					fmt.Fprintf(w, "writer %d line %d\n", k, i)
					w.(nethttp.Flusher).Flush()
				}
			}()
		}
		for i := range lines {
			fmt.Fprintf(w, "handler line %d\n", i)
		}
		// A flow waits for goroutines through the Blocking pool, not by
		// blocking its loop's thread.
		flow.Blocking(r.Context(), func() error { wg.Wait(); return nil })
	})))
	resp, err := nethttp.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	next := map[string]int{}
	for _, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
		who, n, ok := strings.Cut(line, " line ")
		if !ok || fmt.Sprint(next[who]) != n {
			t.Fatalf("line %q out of place or torn (want %s line %d)", line, who, next[who])
		}
		next[who]++
	}
	for k := range writers {
		if got := next[fmt.Sprintf("writer %d", k)]; got != lines {
			t.Errorf("writer %d: %d lines arrived, want %d", k, got, lines)
		}
	}
	if next["handler"] != lines {
		t.Errorf("handler: %d lines arrived, want %d", next["handler"], lines)
	}
}

// A request's context ends when its client goes away, as with net/http:
// a handler waiting on it stops instead of working for nobody.
func TestRequestContextEndsWhenClientLeaves(t *testing.T) {
	g := newGroup(t, 1)
	cause := make(chan error, 1)
	addr := serveOn(t, g, cphttp.Adapt(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		// Waits for the end of the context, parking the flow.
		flow.Blocking(r.Context(), func() error { <-r.Context().Done(); return nil })
		cause <- context.Cause(r.Context())
	})))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(50 * time.Millisecond) // let the handler start; either order must work
	c.Close()
	select {
	case err := <-cause:
		if !errors.Is(err, cphttp.ErrClientGone) {
			t.Errorf("the request's context ended with %v, want ErrClientGone", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("the request's context did not end when its client left")
	}
}
