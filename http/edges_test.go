package http_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	nethttp "net/http"
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

// A client that stops sending its body, or never reads its responses
// (pipelining requests meanwhile), is cut off at BodyReadTimeout and
// SendTimeout, while a normal client is still served.
func TestStalledClientsAreCutOff(t *testing.T) {
	_, addr := startServer(t, cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		io.Copy(io.Discard, r)
		w.Write(make([]byte, 256<<10)) // big enough to stall on a client that reads nothing
	}), cphttp.Limits{BodyReadTimeout: 200 * time.Millisecond, SendTimeout: 200 * time.Millisecond})

	ended := func(c net.Conn) error {
		c.SetReadDeadline(time.Now().Add(hangGuard))
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return errors.New("the connection was still open after the guard")
		}
		return nil
	}
	t.Run("body stalls", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
		if err := ended(c); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("responses never read", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.(*net.TCPConn).SetReadBuffer(4096)
		go func() {
			for range 200 {
				if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
					return
				}
			}
		}()
		time.Sleep(time.Second) // let the responses back up; the stall counts from then
		// Reading now must find the connection cut, not 200 full responses.
		c.SetReadDeadline(time.Now().Add(hangGuard))
		n, _ := io.Copy(io.Discard, c)
		if n >= 200*(256<<10) {
			t.Fatalf("read all %d bytes: the stalled connection was never cut", n)
		}
	})
	// A normal client meanwhile.
	resp, body, _ := roundTrip(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 200 || len(body) != 256<<10 {
		t.Fatalf("a normal client got %d and %d bytes", resp.StatusCode, len(body))
	}
}

// A POST whose reused connection dies before the answer is not sent
// again on a new one: the server may have run it already. A GET is.
func TestClientNeverRetriesPOST(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	posts := make(chan struct{}, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := nethttp.ReadRequest(br)
					if err != nil {
						return
					}
					if req.Method == "POST" {
						posts <- struct{}{}
						return // ran it, then the connection died before the answer
					}
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			}()
		}
	}()
	client := newClient(t, &cphttp.Client{})
	resp, err := client.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	req, _ := nethttp.NewRequest("POST", "http://"+ln.Addr().String()+"/order", nil)
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the POST succeeded though its connection died unanswered")
	}
	time.Sleep(100 * time.Millisecond) // a retry, if any, would arrive meanwhile
	if n := len(posts); n != 1 {
		t.Fatalf("the server got the POST %d times, want once", n)
	}
}

// A server that sends 1xx responses forever gets an error, not a request
// that never ends.
func TestClientBoundsInterimResponses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		nethttp.ReadRequest(bufio.NewReader(c))
		for range 1000 {
			if _, err := io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"); err != nil {
				return
			}
		}
		time.Sleep(hangGuard)
	}()
	client := newClient(t, &cphttp.Client{})
	_, err = client.Get("http://" + ln.Addr().String() + "/")
	if !errors.Is(err, cphttp.ErrTooManyInterimResponses) {
		t.Fatalf("Get = %v, want ErrTooManyInterimResponses", err)
	}
}

// A response carries one Date field: the handler's if it set one (as
// net/http handlers proxying a backend do), else the server's.
func TestOneDateHeader(t *testing.T) {
	_, addr := startServer(t, cphttp.Adapt(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if r.URL.Path == "/own" {
			w.Header().Set("Date", "Mon, 02 Jan 2006 15:04:05 GMT")
		}
		io.WriteString(w, "ok")
	})), cphttp.Limits{})
	for _, path := range []string{"/", "/own"} {
		resp, _, _ := roundTrip(t, addr, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		if n := len(resp.Header.Values("Date")); n != 1 {
			t.Errorf("%s: %d Date fields, want 1", path, n)
		}
		if path == "/own" && resp.Header.Get("Date") != "Mon, 02 Jan 2006 15:04:05 GMT" {
			t.Errorf("%s: Date %q, want the handler's", path, resp.Header.Get("Date"))
		}
	}
}

func TestQueryAccessors(t *testing.T) {
	type answer struct {
		query, a, b string
		hasC        bool
	}
	got := make(chan answer, 1)
	_, addr := startServer(t, cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		a, _ := r.QueryValue("a")
		b, _ := r.QueryValue("b")
		_, hasC := r.QueryValue("c")
		got <- answer{string(r.Query()), a, b, hasC}
	}), cphttp.Limits{})
	roundTrip(t, addr, "GET /p?a=1&b=x%20y+z HTTP/1.1\r\nHost: x\r\n\r\n")
	want := answer{"a=1&b=x%20y+z", "1", "x y z", false}
	if g := <-got; g != want {
		t.Fatalf("got %+v, want %+v", g, want)
	}
}
