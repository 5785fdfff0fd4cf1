package http_test

import (
	"context"
	"errors"
	"io"
	"net"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cport/cport/flow"
	cphttp "github.com/cport/cport/http"
	"github.com/cport/cport/loop"
)

// newClient returns a cport client on its own loop group.
func newClient(t testing.TB, cl *cphttp.Client) *nethttp.Client {
	t.Helper()
	g, err := loop.NewGroup(1, loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cl.Loops = g
	t.Cleanup(func() {
		cl.CloseIdleConnections()
		g.Close()
	})
	return &nethttp.Client{Transport: cl}
}

// netServer is a net/http server counting the connections it accepts.
func netServer(t testing.TB, h nethttp.Handler) (*httptest.Server, *atomic.Int32) {
	var conns atomic.Int32
	s := httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st nethttp.ConnState) {
		if st == nethttp.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, &conns
}

func TestClientKeepAlive(t *testing.T) {
	s, conns := netServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		io.WriteString(w, "hi "+r.URL.Path)
	}))
	client := newClient(t, &cphttp.Client{})
	for i := 0; i < 5; i++ {
		resp, err := client.Get(s.URL + "/x")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "hi /x" {
			t.Fatalf("body %q", b)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 5 requests, want 1", n)
	}
}

func TestClientChunked(t *testing.T) {
	s, _ := netServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if len(r.TransferEncoding) == 0 {
			nethttp.Error(w, "want chunked", 400)
			return
		}
		// Read it all (net/http/1 ends the body once the response
		// starts), then echo in flushed pieces, so the response is
		// chunked too.
		b, _ := io.ReadAll(r.Body)
		for len(b) > 0 {
			n := min(len(b), 1000)
			w.Write(b[:n])
			w.(nethttp.Flusher).Flush()
			b = b[n:]
		}
	}))
	client := newClient(t, &cphttp.Client{})
	body := strings.Repeat("chunky ", 20000)
	pr, pw := io.Pipe()
	go func() {
		io.Copy(pw, strings.NewReader(body))
		pw.Close()
	}()
	resp, err := client.Post(s.URL, "text/plain", pr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != body || len(resp.TransferEncoding) == 0 {
		t.Fatalf("status %d, %d bytes (want %d), TE %v", resp.StatusCode, len(b), len(body), resp.TransferEncoding)
	}
}

func TestClientTimeouts(t *testing.T) {
	s, _ := netServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	client := newClient(t, &cphttp.Client{ResponseHeaderTimeout: 100 * time.Millisecond})
	_, err := client.Get(s.URL)
	if !errors.Is(err, cphttp.ErrResponseHeaderTimeout) {
		t.Fatalf("response header timeout: %v", err)
	}
	client = newClient(t, &cphttp.Client{Timeout: 100 * time.Millisecond})
	if _, err := client.Get(s.URL); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("whole-request timeout: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	req, _ := nethttp.NewRequestWithContext(ctx, "GET", s.URL, nil)
	client = newClient(t, &cphttp.Client{})
	if _, err := client.Do(req); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request: %v", err)
	}
	// A dial to a port nobody listens on fails fast.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if _, err := client.Get("http://" + addr); err == nil {
		t.Fatalf("dial to a closed port succeeded")
	}
}

func TestClientAgainstCport(t *testing.T) {
	_, addr := startServer(t, echo, cphttp.Limits{})
	client := newClient(t, &cphttp.Client{})
	for _, size := range []int{0, 10, 100000} {
		body := strings.Repeat("z", size)
		resp, err := client.Post("http://"+addr+"/", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != body {
			t.Fatalf("size %d: echoed %d bytes", size, len(b))
		}
	}
	// The server closed the idle connection: the client retries a GET on
	// a new one.
	resp, err := client.Head("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestClientStaleConnection(t *testing.T) {
	_, addr := startServer(t, hello, cphttp.Limits{IdleTimeout: 50 * time.Millisecond})
	client := newClient(t, &cphttp.Client{})
	for i := 0; i < 2; i++ {
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "Hello, World!" {
			t.Fatalf("request %d: %q", i, b)
		}
		time.Sleep(150 * time.Millisecond) // the server closes the idle connection
	}
}

// TestClientInFlow calls from a flow on the client's own loop: the
// flow parks while the request is in flight, the loop goes on.
func TestClientInFlow(t *testing.T) {
	_, addr := startServer(t, hello, cphttp.Limits{})
	cl := &cphttp.Client{}
	client := newClient(t, cl)
	l := cl.Loops.Loops()[0]
	var got string
	var gotErr error
	f := flow.Go(l, func(f *flow.Flow) {
		for i := 0; i < 3; i++ {
			req, _ := nethttp.NewRequestWithContext(f.Context(), "GET", "http://"+addr+"/", nil)
			resp, err := client.Do(req)
			if err != nil {
				gotErr = err
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			got, gotErr = string(b), err
		}
	})
	select {
	case <-f.Done():
	case <-time.After(hangGuard):
		t.Fatal("flow did not finish")
	}
	if gotErr != nil || got != "Hello, World!" {
		t.Fatalf("got %q, %v", got, gotErr)
	}
}
