package http_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	cphttp "github.com/cport/cport/http"
)

// A body shorter than its Content-Length, ended by the client's
// half-close, is an error to the handler's Read (io.ErrUnexpectedEOF), and
// the client gets a 400, never the 200 the handler wrote for half a body.
// A malformed chunked body is an error that is ErrBadBody.
func TestTruncatedAndMalformedBodies(t *testing.T) {
	readErr := make(chan error, 1)
	_, addr := startServer(t, cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		_, err := io.ReadAll(r)
		readErr <- err
		w.WriteString("got it") // what a careless handler does
	}), cphttp.Limits{})
	for _, tc := range []struct {
		name, raw string
		want      error
	}{
		{"truncated", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", io.ErrUnexpectedEOF},
		{"bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", cphttp.ErrBadBody},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(hangGuard))
			io.WriteString(c, tc.raw)
			c.(*net.TCPConn).CloseWrite()
			select {
			case err := <-readErr:
				if !errors.Is(err, tc.want) {
					t.Errorf("the handler's Read ended with %v, want %v", err, tc.want)
				}
			case <-time.After(hangGuard):
				t.Fatal("the handler never finished reading")
			}
			resp, _ := io.ReadAll(c)
			if !strings.HasPrefix(string(resp), "HTTP/1.1 400 ") {
				t.Errorf("the client got %q, want a 400", firstLine(string(resp)))
			}
		})
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}
