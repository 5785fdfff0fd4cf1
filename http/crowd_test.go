package http_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	cphttp "github.com/cport/cport/http"
)

// Many hostile peers at once — silent, a head that never ends, a body
// that stops, pipelines never read — against one server with short
// deadlines, while a normal client keeps making requests: every normal
// request is answered correctly, and every hostile peer is closed by the
// server (the guard only bounds the wait; the deadlines are 300 ms).
func TestHostileCrowd(t *testing.T) {
	page := strings.Repeat("p", 4<<10)
	_, addr := startServer(t, cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		b, err := io.ReadAll(r)
		if err != nil {
			return
		}
		if len(b) == 0 {
			w.WriteString(page)
			return
		}
		w.Write(b)
	}), cphttp.Limits{
		ReadHeaderTimeout: 300 * time.Millisecond,
		BodyReadTimeout:   300 * time.Millisecond,
		SendTimeout:       300 * time.Millisecond,
		IdleTimeout:       300 * time.Millisecond,
	})
	kinds := map[string]func(c net.Conn){
		"silent":    func(net.Conn) {},
		"slow head": func(c net.Conn) { io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ") },
		"small body": func(c net.Conn) {
			io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
		},
		"large body": func(c net.Conn) {
			io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n0123456789")
		},
		"chunked": func(c net.Conn) {
			io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123")
		},
		"no-read pipeline": func(c net.Conn) {
			c.(*net.TCPConn).SetReadBuffer(4096)
			req := strings.Repeat("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 100)
			c.SetWriteDeadline(time.Now().Add(2 * time.Second))
			for i := 0; i < 200; i++ {
				if _, err := io.WriteString(c, req); err != nil {
					break
				}
			}
			// It reads nothing for three send timeouts: the server must
			// have cut it by then, or the read below drains it as a
			// normal client would.
			time.Sleep(900 * time.Millisecond)
		},
	}
	const each = 50
	var wg sync.WaitGroup
	errs := make(chan error, each*len(kinds))
	for name, misbehave := range kinds {
		for range each {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				misbehave(c)
				// The server must end it: read until EOF or a reset,
				// never until the guard.
				c.SetReadDeadline(time.Now().Add(hangGuard))
				n, err := io.Copy(io.Discard, c)
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					errs <- errors.New(name + ": still open when the guard expired")
				}
				if name == "no-read pipeline" && n >= 200*100*int64(len(page)) {
					errs <- errors.New(name + ": read every answer: the server never cut it")
				}
			}()
		}
	}
	// The normal client, while they are held: a connection a request, so
	// that a pause of the client's own (the idle timeout is short here)
	// cannot cut it.
	for i := 0; i < 200; i++ {
		c, br := rawConn(t, addr)
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatalf("normal request %d: %v", i, err)
		}
		resp, body, err := readResponse(br)
		c.Close()
		if err != nil || resp.StatusCode != 200 || body != page {
			t.Fatalf("normal request %d during the crowd: %v, %v, %d bytes", i, err, resp, len(body))
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
