package http_test

import (
	"fmt"
	"strings"
	"testing"

	cphttp "github.com/cport/cport/http"
)

// TestPipelinedLargeHeads pipelines requests whose heads are larger than
// half the read-ahead, as a client with big cookies does, and reads every
// answer. The server pauses reading while it serves; a head it holds only
// part of must make it read again, or the rest waits in the socket until
// the header timeout refuses a request the client sent whole.
func TestPipelinedLargeHeads(t *testing.T) {
	_, addr := startServerLoops(t, 1, cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		w.Write(r.Path())
	}), cphttp.Limits{})
	c, br := rawConn(t, addr)
	const n = 100
	cookie := strings.Repeat("c", 3000)
	var all strings.Builder
	for i := range n {
		fmt.Fprintf(&all, "GET /%d HTTP/1.1\r\nHost: x\r\nCookie: %s\r\n\r\n", i, cookie)
	}
	go c.Write([]byte(all.String()))
	for i := range n {
		resp, body, err := readResponse(br)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if want := fmt.Sprintf("/%d", i); resp.StatusCode != 200 || body != want {
			t.Fatalf("response %d: %s %q, want 200 %q", i, resp.Status, body, want)
		}
	}
}
