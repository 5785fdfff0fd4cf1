package http_test

import (
	"bufio"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	cphttp "github.com/cport/cport/http"
)

// TestPipelineYieldsToOneRequest: a client that pipelines many requests
// and one that sends a single request become ready in the same loop turn,
// the pipeline first. The single request is served after at most one
// turn of the pipeline (16 requests), not after all the pipeline's
// requests the server has read.
func TestPipelineYieldsToOneRequest(t *testing.T) {
	var mu sync.Mutex
	var order []string
	hold := make(chan struct{})
	_, addr := startServerLoops(t, 1, cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		path := string(r.Path())
		if path == "/hold" {
			// Keep the loop busy while the others' requests arrive, so
			// that its next turn finds them all.
			<-hold
			time.Sleep(50 * time.Millisecond)
		}
		mu.Lock()
		order = append(order, path)
		mu.Unlock()
		w.WriteString(".")
	}), cphttp.Limits{})
	holder, holderBr := rawConn(t, addr)
	piper, piperBr := rawConn(t, addr)
	single, singleBr := rawConn(t, addr)
	if _, err := holder.Write([]byte("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	// The holder's handler runs once the loop has read its request; give
	// it that turn, then fill the sockets while the handler holds the loop.
	time.Sleep(50 * time.Millisecond)
	const pipelined = 30
	var pipe strings.Builder
	for i := range pipelined {
		fmt.Fprintf(&pipe, "GET /p%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	if _, err := piper.Write([]byte(pipe.String())); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // the pipeline's data comes first
	if _, err := single.Write([]byte("GET /single HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	close(hold)
	readAll := func(br *bufio.Reader, n int) {
		for i := range n {
			if _, _, err := readResponse(br); err != nil {
				t.Fatalf("response %d: %v", i, err)
			}
		}
	}
	readAll(holderBr, 1)
	readAll(singleBr, 1)
	readAll(piperBr, pipelined)
	mu.Lock()
	defer mu.Unlock()
	for i, p := range order {
		if p == "/single" {
			if before := i - 1; before > 16 {
				t.Fatalf("the single request was served after %d of the pipeline's: %v", before, order)
			}
			t.Logf("the single request was served after %d of the pipeline's", i-1)
			return
		}
	}
	t.Fatalf("the single request was never served: %v", order)
}
