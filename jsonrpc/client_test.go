package jsonrpc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	nethttp "net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cport/cport/flow"
	cphttp "github.com/cport/cport/http"
	"github.com/cport/cport/jsonrpc"
)

// serveStream serves s on a flow listener and returns its address.
func serveStream(t *testing.T, s *jsonrpc.Server) string {
	t.Helper()
	g := startGroup(t)
	ln, err := flow.Listen(context.Background(), g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			flow.Go(c.(*flow.Conn).Loop(), func(f *flow.Flow) {
				defer c.Close()
				s.ServeConn(f.Context(), c)
			})
		}
	}()
	return ln.Addr().String()
}

func dialClient(t *testing.T, addr string) *jsonrpc.Client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonrpc.NewClient(conn)
	t.Cleanup(func() { c.Close() })
	return c
}

func guardCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// A peer that answers two calls in the opposite order: each caller gets
// its own reply. (A client that allowed one call at a time would never
// send the second, and the peer never answer.)
func TestClientRepliesOutOfOrder(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		var ids []json.RawMessage
		var params []string
		for range 2 {
			line, err := br.ReadBytes('\n')
			if err != nil {
				return
			}
			var req struct {
				ID     json.RawMessage
				Params []string
			}
			json.Unmarshal(line, &req)
			ids, params = append(ids, req.ID), append(params, req.Params[0])
		}
		for i := 1; i >= 0; i-- {
			fmt.Fprintf(conn, `{"jsonrpc":"2.0","result":%q,"id":%s}`+"\n", "echo "+params[i], ids[i])
		}
		br.ReadByte() // until the client closes
	}()
	c := dialClient(t, ln.Addr().String())
	ctx := guardCtx(t)
	var wg sync.WaitGroup
	for _, word := range []string{"first", "second"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got string
			if err := c.Call(ctx, "echo", []string{word}, &got); err != nil || got != "echo "+word {
				t.Errorf("call %s: %q, %v", word, got, err)
			}
		}()
	}
	wg.Wait()
}

// Many goroutines calling at once on one stream each get their answer.
func TestClientConcurrentCalls(t *testing.T) {
	c := dialClient(t, serveStream(t, newServer(t)))
	ctx := guardCtx(t)
	var wg sync.WaitGroup
	for g := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				var sum int
				if err := c.Call(ctx, "add", [2]int{g, i}, &sum); err != nil || sum != g+i {
					t.Errorf("add(%d, %d) = %d, %v", g, i, sum, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// A batch of calls and a notification: each call's outcome in its entry;
// a batch over the server's MaxBatch is refused whole.
func TestClientBatch(t *testing.T) {
	s := newServer(t)
	s.MaxBatch = 4
	c := dialClient(t, serveStream(t, s))
	ctx := guardCtx(t)
	var sum int
	var hello string
	calls := []jsonrpc.BatchCall{
		{Method: "add", Params: [2]int{2, 3}, Result: &sum},
		{Method: "ping", Notify: true},
		{Method: "nope"},
		{Method: "greet", Params: map[string]string{"Name": "cy"}, Result: &hello},
	}
	if err := c.Batch(ctx, calls); err != nil {
		t.Fatal(err)
	}
	var rerr *jsonrpc.Error
	if calls[0].Err != nil || sum != 5 || calls[3].Err != nil || hello != "hi cy" ||
		!errors.As(calls[2].Err, &rerr) || rerr.Code != jsonrpc.CodeMethodNotFound {
		t.Fatalf("batch: sum %d (%v), hello %q (%v), nope %v", sum, calls[0].Err, hello, calls[3].Err, calls[2].Err)
	}
	big := make([]jsonrpc.BatchCall, 5)
	for i := range big {
		big[i] = jsonrpc.BatchCall{Method: "ping"}
	}
	if err := c.Batch(ctx, big); !errors.As(err, &rerr) || rerr.Code != jsonrpc.CodeInvalidRequest {
		t.Fatalf("a batch over MaxBatch: %v, want -32600", err)
	}
	// The stream still works.
	if err := c.Call(ctx, "add", [2]int{1, 1}, &sum); err != nil || sum != 2 {
		t.Fatalf("after the refused batch: %d, %v", sum, err)
	}
}

// A call whose context ends is abandoned; the stream stays usable and
// the late reply goes nowhere.
func TestClientAbandonedCall(t *testing.T) {
	s := newServer(t)
	release := make(chan struct{})
	if err := s.Register("slow", func(context.Context) (string, error) { <-release; return "late", nil }); err != nil {
		t.Fatal(err)
	}
	c := dialClient(t, serveStream(t, s))
	ctx, cancel := context.WithCancel(guardCtx(t))
	errc := make(chan error, 1)
	go func() { errc <- c.Call(ctx, "slow", nil, nil) }()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned call: %v, want context.Canceled", err)
	}
	close(release)
	var sum int
	if err := c.Call(guardCtx(t), "add", [2]int{3, 4}, &sum); err != nil || sum != 7 {
		t.Fatalf("after an abandoned call: %d, %v", sum, err)
	}
}

// A closed client fails its waiting and later calls with ErrClientClosed.
func TestClientClosed(t *testing.T) {
	s := newServer(t)
	block := make(chan struct{})
	defer close(block)
	if err := s.Register("block", func(context.Context) error { <-block; return nil }); err != nil {
		t.Fatal(err)
	}
	c := dialClient(t, serveStream(t, s))
	errc := make(chan error, 1)
	go func() { errc <- c.Call(guardCtx(t), "block", nil, nil) }()
	time.Sleep(10 * time.Millisecond) // let it be sent; either way it must fail
	c.Close()
	if err := <-errc; !errors.Is(err, jsonrpc.ErrClientClosed) {
		t.Errorf("waiting call: %v, want ErrClientClosed", err)
	}
	if err := c.Call(guardCtx(t), "ping", nil, nil); !errors.Is(err, jsonrpc.ErrClientClosed) {
		t.Errorf("call after Close: %v, want ErrClientClosed", err)
	}
}

// HTTPClient sends notifications (answered 204) and batches.
func TestHTTPClientNotifyAndBatch(t *testing.T) {
	s := newServer(t)
	var pings atomic.Int64
	if err := s.Register("count", func(context.Context) error { pings.Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	g := startGroup(t)
	srv := &cphttp.Server{Handler: s.HTTPHandler()}
	addr, err := srv.Listen(g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cl := &cphttp.Client{Loops: g}
	defer cl.CloseIdleConnections()
	c := &jsonrpc.HTTPClient{URL: "http://" + addr.String() + "/rpc", HTTP: &nethttp.Client{Transport: cl}}
	ctx := guardCtx(t)
	if err := c.Notify(ctx, "count", nil); err != nil {
		t.Fatal(err)
	}
	var sum int
	calls := []jsonrpc.BatchCall{{Method: "count", Notify: true}, {Method: "add", Params: [2]int{5, 6}, Result: &sum}, {Method: "fail"}}
	if err := c.Batch(ctx, calls); err != nil {
		t.Fatal(err)
	}
	var rerr *jsonrpc.Error
	if calls[1].Err != nil || sum != 11 || !errors.As(calls[2].Err, &rerr) || rerr.Code != jsonrpc.CodeServerError {
		t.Fatalf("batch: sum %d (%v), fail %v", sum, calls[1].Err, calls[2].Err)
	}
	if err := c.Batch(ctx, []jsonrpc.BatchCall{{Method: "count", Notify: true}}); err != nil {
		t.Fatalf("a batch of notifications only: %v", err)
	}
	if n := pings.Load(); n != 3 {
		t.Errorf("the server ran count %d times, want 3", n)
	}
}

// pythonPeer is a JSON-RPC peer written in Python with only its standard
// library: an implementation that is not ours. As a client it sends a
// call, a notification, a batch and a malformed line to our server and
// prints the replies; as a server it answers pipelined calls in reverse
// order.
const pythonPeer = `
import json, socket, sys
mode, port = sys.argv[1], int(sys.argv[2])
if mode == "client":
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rwb")
    def send(obj):
        f.write((obj if isinstance(obj, str) else json.dumps(obj)).encode() + b"\n"); f.flush()
    send({"jsonrpc": "2.0", "method": "add", "params": [20, 22], "id": 1})
    send({"jsonrpc": "2.0", "method": "ping"})
    send([{"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": "b1"},
          {"jsonrpc": "2.0", "method": "nope", "id": "b2"}])
    send('{"jsonrpc": "2.0", "method"')
    for _ in range(3):
        print(json.dumps(json.loads(f.readline()), sort_keys=True))
else:
    ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1)
    print(ls.getsockname()[1], flush=True)
    c, _ = ls.accept(); f = c.makefile("rwb")
    reqs = [json.loads(f.readline()) for _ in range(3)]
    for r in reversed(reqs):
        f.write(json.dumps({"jsonrpc": "2.0", "result": sum(r["params"]), "id": r["id"]}).encode() + b"\n")
    f.flush()
    f.readline()
`

func python(t *testing.T) string {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: no independent peer to test against")
	}
	return py
}

func TestPythonClientAgainstServer(t *testing.T) {
	py := python(t)
	addr := serveStream(t, newServer(t))
	_, port, _ := net.SplitHostPort(addr)
	ctx := guardCtx(t)
	out, err := exec.CommandContext(ctx, py, "-c", pythonPeer, "client", port).CombinedOutput()
	if err != nil {
		t.Fatalf("python client: %v\n%s", err, out)
	}
	want := []string{
		`{"id": 1, "jsonrpc": "2.0", "result": 42}`,
		`[{"id": "b1", "jsonrpc": "2.0", "result": 3}, {"error": {"code": -32601, "message": "method not found: nope"}, "id": "b2", "jsonrpc": "2.0"}]`,
		`{"error": {"code": -32700, "message": "parse error"}, "id": null, "jsonrpc": "2.0"}`,
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("python client read:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestClientAgainstPythonServer(t *testing.T) {
	py := python(t)
	ctx := guardCtx(t)
	cmd := exec.CommandContext(ctx, py, "-c", pythonPeer, "server", "0")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	var port string
	if _, err := fmt.Fscan(stdout, &port); err != nil {
		t.Fatalf("python server's port: %v", err)
	}
	c := dialClient(t, "127.0.0.1:"+port)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sum int
			if err := c.Call(ctx, "sum", []int{i, 100}, &sum); err != nil || sum != i+100 {
				t.Errorf("call %d: %d, %v", i, sum, err)
			}
		}()
	}
	wg.Wait()
}
