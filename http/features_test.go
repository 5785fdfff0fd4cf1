package http_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	nethttp "net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cphttp "github.com/cport/cport/http"
	"github.com/cport/cport/internal/looptest"
	"github.com/cport/cport/loop"
)

// echo answers with the request body.
var echo = cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
	buf := make([]byte, 8<<10)
	for {
		n, err := r.Read(buf)
		w.Write(buf[:n])
		if err == io.EOF {
			return
		}
		if err != nil {
			w.WriteHeader(500)
			return
		}
	}
})

func TestPipelining(t *testing.T) {
	_, addr := startServer(t, cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		w.Write(r.Target)
	}), cphttp.Limits{})
	c, br := rawConn(t, addr)
	var req bytes.Buffer
	for _, p := range []string{"/a", "/b", "/c", "/d"} {
		req.WriteString("GET " + p + " HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	// One write: the server sees all four requests at once.
	if _, err := c.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/a", "/b", "/c", "/d"} {
		resp, err := nethttp.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response for %s: %v", want, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != want {
			t.Fatalf("got body %q, want %q (answers out of order?)", b, want)
		}
	}
}

func TestChunkedRequestBody(t *testing.T) {
	_, addr := startServer(t, cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		if r.ContentLength == -1 && string(r.Header("transfer-encoding")) == "chunked" {
			w.AddHeader("X-Chunked", "yes")
		}
		echo(w, r)
	}), cphttp.Limits{})
	body := strings.Repeat("0123456789", 20000)
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < len(body); i += 7000 {
			pw.Write([]byte(body[i:min(i+7000, len(body))]))
		}
		pw.Close()
	}()
	req, _ := nethttp.NewRequest("POST", "http://"+addr+"/echo", pr)
	resp, err := nethttp.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("X-Chunked") != "yes" {
		t.Fatalf("the server did not see a chunked body")
	}
	if string(got) != body {
		t.Fatalf("echoed %d bytes, want %d", len(got), len(body))
	}
	// Larger than flushSize and no Content-Length: streamed chunked.
	if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("response Transfer-Encoding %v, want chunked", resp.TransferEncoding)
	}
}

func TestChunkedResponseFlush(t *testing.T) {
	_, addr := startServer(t, cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		for i := 0; i < 3; i++ {
			w.WriteString("part\n")
			w.Flush()
		}
	}), cphttp.Limits{})
	resp, body, _ := roundTrip(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if body != "part\npart\npart\n" || len(resp.TransferEncoding) == 0 {
		t.Fatalf("body %q, Transfer-Encoding %v; want three parts, chunked", body, resp.TransferEncoding)
	}
}

func TestHead(t *testing.T) {
	_, addr := startServer(t, hello, cphttp.Limits{})
	resp, err := nethttp.Head("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != int64(len("Hello, World!")) {
		t.Fatalf("HEAD: status %d, Content-Length %d", resp.StatusCode, resp.ContentLength)
	}
	// A raw HEAD followed by a GET on one connection: no body bytes may
	// sit between the two responses.
	c, br := rawConn(t, addr)
	c.Write([]byte("HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	r1, err := nethttp.ReadResponse(br, &nethttp.Request{Method: "HEAD"})
	if err != nil {
		t.Fatal(err)
	}
	r1.Body.Close()
	r2, err := nethttp.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("GET after HEAD: %v", err)
	}
	if b, _ := io.ReadAll(r2.Body); string(b) != "Hello, World!" {
		t.Fatalf("GET after HEAD: body %q", b)
	}
}

func TestExpectContinue(t *testing.T) {
	_, addr := startServer(t, echo, cphttp.Limits{})
	tr := &nethttp.Transport{ExpectContinueTimeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	got100 := false
	trace := &httptrace.ClientTrace{Got100Continue: func() { got100 = true }}
	req, _ := nethttp.NewRequest("PUT", "http://"+addr+"/", strings.NewReader("payload"))
	req.Header.Set("Expect", "100-continue")
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	start := time.Now()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "payload" || !got100 || time.Since(start) > 5*time.Second {
		t.Fatalf("body %q, got 100 %v, took %v", b, got100, time.Since(start))
	}
}

func TestExpectContinueRefused(t *testing.T) {
	// A handler that answers without reading: no 100, and the connection
	// closes, since the body was never sent.
	_, addr := startServer(t, cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		w.WriteHeader(403)
	}), cphttp.Limits{})
	resp, _, br := roundTrip(t, addr, "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	if resp.StatusCode != 403 || !resp.Close {
		t.Fatalf("status %d close %v, want 403 and close", resp.StatusCode, resp.Close)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("connection still open: %v", err)
	}
}

func TestHTTP10(t *testing.T) {
	_, addr := startServer(t, hello, cphttp.Limits{})
	resp, body, br := roundTrip(t, addr, "GET / HTTP/1.0\r\n\r\n")
	if resp.StatusCode != 200 || body != "Hello, World!" || !resp.Close {
		t.Fatalf("1.0: status %d body %q close %v", resp.StatusCode, body, resp.Close)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("1.0 connection not closed: %v", err)
	}
	// With keep-alive the connection stays for a second request.
	c, br := rawConn(t, addr)
	for i := 0; i < 2; i++ {
		c.Write([]byte("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))
		resp, err := nethttp.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("keep-alive request %d: %v", i, err)
		}
		io.ReadAll(resp.Body)
		if resp.Close {
			t.Fatalf("keep-alive request %d: server closes", i)
		}
	}
}

func TestConnectionClose(t *testing.T) {
	_, addr := startServer(t, hello, cphttp.Limits{})
	resp, _, br := roundTrip(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if !resp.Close {
		t.Fatalf("no Connection: close in answer")
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("request after Connection: close was answered: %v", err)
	}
}

func TestHandlerPanic(t *testing.T) {
	_, addr := startServer(t, cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		panic("boom")
	}), cphttp.Limits{})
	resp, _, _ := roundTrip(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 500 {
		t.Fatalf("status %d, want 500", resp.StatusCode)
	}
}

func TestAdapter(t *testing.T) {
	mux := nethttp.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("X-Name", r.PathValue("name"))
		io.WriteString(w, "hi "+r.PathValue("name"))
	})
	mux.HandleFunc("POST /echo", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		io.Copy(w, r.Body)
	})
	_, addr := startServer(t, cphttp.Adapt(mux), cphttp.Limits{})
	resp, err := nethttp.Get("http://" + addr + "/hello/gopher")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hi gopher" || resp.Header.Get("X-Name") != "gopher" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("got %q, header %v", b, resp.Header)
	}
	body := strings.Repeat("x", 100000)
	resp, err = nethttp.Post("http://"+addr+"/echo", "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != body {
		t.Fatalf("echo: %d bytes, want %d", len(b), len(body))
	}
	resp, _ = nethttp.Get("http://" + addr + "/nope")
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("unknown path: %d, want 404", resp.StatusCode)
	}
}

// TestConcurrentClients runs many connections at once, so requests of
// several connections are parsed in one loop iteration and handed to
// workers together: each must get its own request.
func TestConcurrentClients(t *testing.T) {
	_, addr := startServer(t, cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		w.Write(r.Target)
	}), cphttp.Limits{})
	tr := &nethttp.Transport{MaxIdleConnsPerHost: 50}
	defer tr.CloseIdleConnections()
	client := &nethttp.Client{Transport: tr}
	errc := make(chan error, 50)
	for g := 0; g < 50; g++ {
		go func() {
			for i := 0; i < 20; i++ {
				path := "/" + strconv.Itoa(g) + "/" + strconv.Itoa(i)
				resp, err := client.Get("http://" + addr + path)
				if err != nil {
					errc <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != path {
					errc <- fmt.Errorf("asked %s, got %s", path, b)
					return
				}
			}
			errc <- nil
		}()
	}
	for g := 0; g < 50; g++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

func TestHTTP10ExpectIgnored(t *testing.T) {
	_, addr := startServer(t, echo, cphttp.Limits{})
	resp, body, _ := roundTrip(t, addr, "POST / HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok")
	if resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("status %d body %q; want 200 ok and no 100 for a 1.0 client", resp.StatusCode, body)
	}
}

// TestPipelineBackpressure pipelines many requests while not reading the
// answers: once the answers fill the kernel's buffers, the server must
// stop reading requests (what it has taken in stays within what it served
// and a small read-ahead, however much the client sends) and not queue
// answers, and then, as the client reads, answer every request, in order.
func TestPipelineBackpressure(t *testing.T) {
	looptest.Watch(t)
	g, err := loop.NewGroup(1, loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	page := strings.Repeat("p", 64<<10)
	var served atomic.Int64
	s := &cphttp.Server{Handler: cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		served.Add(1)
		w.WriteString(page)
	}), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	defer s.Close()
	addr, err := s.Listen(g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, br := rawConn(t, addr.String())
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("x", 1000) + "\r\n\r\n")
	const n = 500 // half a megabyte of requests, far more than the read-ahead
	go func() {
		for i := 0; i < n; i++ {
			if _, err := c.Write(req); err != nil {
				return
			}
		}
	}()
	// The server is stalled once neither its count of answers nor its
	// queue moves, with answers queued: the client reads none.
	l := g.Loops()[0]
	deadline := time.Now().Add(hangGuard)
	var stable int
	var last [2]int64
	for stable < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the server never stalled on a client that reads nothing")
		}
		time.Sleep(100 * time.Millisecond)
		cur := [2]int64{served.Load(), l.Stats().WriteQueued}
		if cur == last && cur[1] > 0 {
			stable++
		} else {
			stable = 0
		}
		last = cur
	}
	st := l.Stats()
	t.Logf("stalled after %d answers: %d bytes read, %d queued", served.Load(), st.BytesIn, st.WriteQueued)
	if took, want := int64(st.BytesIn), served.Load()*int64(len(req))+16<<10; took > want {
		t.Errorf("stalled after %d answers, the server has read %d bytes of requests; want at most %d (what it served and a read-ahead)", served.Load(), took, want)
	}
	if st.WriteQueued > 256<<10 {
		t.Errorf("stalled, the server queues %d bytes of answers; want a bounded few", st.WriteQueued)
	}
	for i := 0; i < n; i++ {
		resp, body, err := readResponse(br)
		if err != nil || len(body) != len(page) {
			if resp != nil {
				t.Logf("status %s, body %q", resp.Status, body[:min(len(body), 200)])
			}
			t.Fatalf("response %d: %v, %d bytes", i, err, len(body))
		}
	}
}
