package http

import (
	"io"
	"net"
	nethttp "net/http"
	"testing"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
)

// A request made in a flow leaves its keep-alive connection in the pool
// of the flow's own loop, and the connection lives on that loop: the next
// request from a flow there needs no hop to another loop.
func TestClientPoolsPerLoop(t *testing.T) {
	g, err := loop.NewGroup(3, loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &nethttp.Server{Handler: nethttp.HandlerFunc(func(w nethttp.ResponseWriter, _ *nethttp.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(ln)
	defer srv.Close()
	c := &Client{Loops: g}
	for _, l := range g.Loops() {
		done := make(chan error, 1)
		flow.Go(l, func(f *flow.Flow) {
			req, _ := nethttp.NewRequestWithContext(f.Context(), "GET", "http://"+ln.Addr().String()+"/", nil)
			resp, err := c.RoundTrip(req)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			done <- err
		})
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the request never finished")
		}
	}
	c.pool.mu.Lock()
	defer c.pool.mu.Unlock()
	for _, l := range g.Loops() {
		idle := c.pool.idle[poolKey{l: l, host: ln.Addr().String()}]
		if len(idle) != 1 {
			t.Fatalf("loop's pool holds %d idle connections, want 1 (the one its flow used)", len(idle))
		}
		if idle[0].conn.(*flow.Conn).Loop() != l {
			t.Error("a pooled connection lives on another loop than its pool's")
		}
	}
}
