package main

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/cport/cport/jsonrpc"
)

// cport rpc answers calls and batches over TCP, and refuses a batch over
// --max-batch with one -32600 error while the stream goes on.
func TestRPCServes(t *testing.T) {
	addr := startCportServer(t, nil, ` on (\S+), `, "rpc", "--addr", "127.0.0.1:0", "--loops", "1", "--max-batch", "3")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := jsonrpc.NewClient(conn)
	var sum float64
	if err := c.Call(ctx, "add", []float64{1, 2, 3.5}, &sum); err != nil || sum != 6.5 {
		t.Fatalf("add = %v, %v; want 6.5", sum, err)
	}
	var echoed map[string]string
	if err := c.Call(ctx, "echo", map[string]string{"a": "b"}, &echoed); err != nil || echoed["a"] != "b" {
		t.Fatalf("echo = %v, %v; want map[a:b]", echoed, err)
	}
	calls := make([]jsonrpc.BatchCall, 4)
	for i := range calls {
		calls[i] = jsonrpc.BatchCall{Method: "add", Params: []float64{1}}
	}
	var rerr *jsonrpc.Error
	if err := c.Batch(ctx, calls); !errors.As(err, &rerr) || rerr.Code != jsonrpc.CodeInvalidRequest {
		t.Fatalf("a batch of 4 with --max-batch 3: %v; want a -32600 error", err)
	}
	if err := c.Call(ctx, "add", []float64{2}, &sum); err != nil || sum != 2 {
		t.Fatalf("add after the refused batch = %v, %v; want 2", sum, err)
	}
}
