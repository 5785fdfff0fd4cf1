package http_test

import (
	"io"
	"strings"
	"testing"
	"time"

	cphttp "github.com/cport/cport/http"
)

// TestRefusals sends each malformed, oversized or ambiguous request on a
// fresh connection and checks the status and that the server closes: a
// request whose framing is in doubt must not leave bytes that a later
// request could be smuggled in.
func TestRefusals(t *testing.T) {
	lim := cphttp.Limits{MaxHeaderBytes: 1024, MaxHeaders: 10, MaxBodyBytes: 1000}
	_, addr := startServer(t, echo, lim)
	const h = "Host: x\r\n"
	many := strings.Repeat("X-A: 1\r\n", 11)
	cases := []struct {
		name, req string
		code      int
	}{
		{"head too large", "GET /" + strings.Repeat("a", 2000) + " HTTP/1.1\r\n" + h + "\r\n", 431},
		{"head too large, incomplete", "GET / HTTP/1.1\r\nX-Big: " + strings.Repeat("a", 2000), 431},
		{"too many fields", "GET / HTTP/1.1\r\n" + h + many + "\r\n", 431},
		{"body too large", "POST / HTTP/1.1\r\n" + h + "Content-Length: 1001\r\n\r\n", 413},
		{"chunked body too large", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3e9\r\n" + strings.Repeat("a", 1001) + "\r\n0\r\n\r\n", 413},
		{"CL and TE", "POST / HTTP/1.1\r\n" + h + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE and CL", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400},
		{"conflicting CL", "POST / HTTP/1.1\r\n" + h + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
		{"conflicting CL list", "POST / HTTP/1.1\r\n" + h + "Content-Length: 3, 4\r\n\r\nabcd", 400},
		{"signed CL", "POST / HTTP/1.1\r\n" + h + "Content-Length: +3\r\n\r\nabc", 400},
		{"empty CL", "POST / HTTP/1.1\r\n" + h + "Content-Length: \r\n\r\n", 400},
		{"obs-fold", "GET / HTTP/1.1\r\n" + h + "X-A: 1\r\n  2\r\n\r\n", 400},
		{"bare LF in field", "GET / HTTP/1.1\r\n" + h + "X-A: 1\n\r\n", 400},
		{"bare LF request line", "GET / HTTP/1.1\n" + h + "\r\n", 400},
		{"bare LF head end", "GET / HTTP/1.1\r\n" + h + "\n", 400},
		{"bare CR in field", "GET / HTTP/1.1\r\n" + h + "X-A: 1\r2\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\n" + h + "X-A : 1\r\n\r\n", 400},
		{"no colon", "GET / HTTP/1.1\r\n" + h + "X-A\r\n\r\n", 400},
		{"NUL in value", "GET / HTTP/1.1\r\n" + h + "X-A: \x00\r\n\r\n", 400},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two Hosts", "GET / HTTP/1.1\r\n" + h + h + "\r\n", 400},
		{"bad method", "G(T / HTTP/1.1\r\n" + h + "\r\n", 400},
		{"bad version", "GET / HTTP/1.x\r\n" + h + "\r\n", 400},
		{"HTTP/2.0", "GET / HTTP/2.0\r\n" + h + "\r\n", 505},
		{"two spaces", "GET  / HTTP/1.1\r\n" + h + "\r\n", 400},
		{"TE not chunked", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip\r\n\r\n", 400},
		{"chunked not last", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked, gzip\r\n\r\n", 400},
		{"unknown coding", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501},
		{"TE in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"bad expectation", "GET / HTTP/1.1\r\n" + h + "Expect: teapot\r\n\r\n", 417},
		{"chunk size not hex", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", 400},
		{"chunk size empty", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n\r\nab\r\n0\r\n\r\n", 400},
		{"chunk size overflow", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n10000000000000001\r\nab\r\n0\r\n\r\n", 400},
		{"chunk size signed", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n-2\r\nab\r\n0\r\n\r\n", 400},
		{"chunk bare LF", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n2\nab\r\n0\r\n\r\n", 400},
		{"chunk data overrun", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, _, br := roundTrip(t, addr, tc.req)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.code)
			}
			if !resp.Close {
				t.Errorf("no Connection: close")
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("connection left open: %v", err)
			}
		})
	}
}

func TestAccepted(t *testing.T) {
	// Edge cases RFC 9112 lets a server accept.
	_, addr := startServer(t, echo, cphttp.Limits{})
	const h = "Host: x\r\n"
	cases := []struct{ name, req, body string }{
		{"leading CRLF", "\r\n\r\nGET / HTTP/1.1\r\n" + h + "\r\n", ""},
		{"repeated equal CL", "POST / HTTP/1.1\r\n" + h + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", "abc"},
		{"CL list of equals", "POST / HTTP/1.1\r\n" + h + "Content-Length: 3, 3\r\n\r\nabc", "abc"},
		{"chunk extension and trailer", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: Chunked\r\n\r\n3;x=y\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n", "abc0123456789"},
		{"HTTP/1.1 upper minor", "GET / HTTP/1.9\r\n" + h + "\r\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body, _ := roundTrip(t, addr, tc.req)
			if resp.StatusCode != 200 || body != tc.body || resp.Close {
				t.Fatalf("status %d body %q close %v; want 200 %q keep-alive", resp.StatusCode, body, resp.Close, tc.body)
			}
		})
	}
}

func TestReadHeaderTimeout(t *testing.T) {
	_, addr := startServer(t, hello, cphttp.Limits{ReadHeaderTimeout: 150 * time.Millisecond})
	start := time.Now()
	resp, _, _ := roundTrip(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n")
	if resp.StatusCode != 408 || !resp.Close {
		t.Fatalf("status %d close %v, want 408 and close", resp.StatusCode, resp.Close)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("408 after %v, before the timeout", d)
	}
}

func TestIdleTimeout(t *testing.T) {
	_, addr := startServer(t, hello, cphttp.Limits{IdleTimeout: 150 * time.Millisecond})
	c, br := rawConn(t, addr)
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	if _, _, err := readResponse(br); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: read %v, want EOF", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("closed after %v, before the idle timeout", d)
	}
}
