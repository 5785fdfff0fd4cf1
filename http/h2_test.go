//lint:file-ignore SA1019 x/net/http2's Transport is the h2c client with prior knowledge that users have, and its Framer the way to check an upgrade frame by frame.

package http_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/cport/cport/flow"
	cphttp "github.com/cport/cport/http"
	"github.com/cport/cport/internal/looptest"
	"github.com/cport/cport/loop"
)

// startH2Server serves h on a two-loop group, over TLS with cfg or on
// plain TCP if cfg is nil, after setup has set the server's fields.
func startH2Server(t *testing.T, h cphttp.Handler, cfg *tls.Config, setup func(*cphttp.Server)) (*cphttp.Server, string) {
	t.Helper()
	looptest.Watch(t)
	g, err := loop.NewGroup(2, loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s := &cphttp.Server{Handler: h, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if setup != nil {
		setup(s)
	}
	var addr net.Addr
	if cfg != nil {
		addr, err = s.ListenTLS(g, "tcp", "127.0.0.1:0", cfg)
	} else {
		addr, err = s.Listen(g, "tcp", "127.0.0.1:0")
	}
	if err != nil {
		g.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		g.Close()
	})
	return s, addr.String()
}

// h2Routes answers natively: /proto names the protocol and whether the
// handler runs in a flow of a loop; /echo returns the body it read;
// /big streams n KiB; /adapted goes through Adapt inside the native
// handler; /panic panics.
func h2Routes(adapted cphttp.Handler) cphttp.HandlerFunc {
	return func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		switch string(r.Path()) {
		case "/proto":
			tlsState := "plain"
			if cs := r.TLS(); cs != nil {
				tlsState = "tls " + cs.NegotiatedProtocol
			}
			w.AddHeader("X-In-Loop", fmt.Sprint(loop.Current() != nil))
			fmt.Fprintf(w, "HTTP/%d.%d %s %s", r.ProtoMajor, r.ProtoMinor, tlsState, r.Header("X-Test"))
		case "/echo":
			var got bytes.Buffer
			buf := make([]byte, 3000)
			for {
				n, err := r.Read(buf)
				got.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					w.WriteHeader(500)
					return
				}
			}
			w.AddHeader("Content-Type", "application/octet-stream")
			w.Write(got.Bytes())
		case "/big":
			n, _ := r.QueryValue("kib")
			var k int
			fmt.Sscan(n, &k)
			chunk := bytes.Repeat([]byte("x"), 1024)
			for range k {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case "/adapted":
			adapted.ServeHTTP(w, r)
		case "/sleep":
			flow.Sleep(r.Context(), 10*time.Millisecond) // a flow call: parks the flow
			w.WriteString("slept")
		case "/hints":
			if err := w.WriteInterim(103, map[string][]string{"Link": {"</style.css>; rel=preload"}}); err != nil {
				w.WriteHeader(500)
				return
			}
			if _, err := w.Hijack(); !errors.Is(err, cphttp.ErrHijackHTTP2) && r.ProtoMajor == 2 {
				w.WriteHeader(500)
				return
			}
			w.WriteString("hinted")
		case "/panic":
			panic("handler panic (expected by the test)")
		default:
			w.WriteHeader(404)
		}
	}
}

var adaptedMux = func() nethttp.Handler {
	mux := nethttp.NewServeMux()
	mux.HandleFunc("/adapted", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		io.WriteString(w, "adapted "+r.Proto)
	})
	mux.HandleFunc("/proto", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		tlsState := "plain"
		if r.TLS != nil {
			tlsState = "tls " + r.TLS.NegotiatedProtocol
		}
		fmt.Fprintf(w, "%s %s %s", r.Proto, tlsState, r.Header.Get("X-Test"))
	})
	mux.HandleFunc("/echo", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		io.Copy(w, r.Body)
	})
	return mux
}()

// get fetches url with client and returns the response and its body.
func get(t *testing.T, client *nethttp.Client, method, url string, body []byte) (*nethttp.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := nethttp.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Test", "yes")
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return resp, string(b)
}

// h2Checks runs the routes over client, which must speak HTTP/2, and
// checks each answer; scheme is "https" or "http".
func h2Checks(t *testing.T, client *nethttp.Client, base, tlsState string, native bool) {
	resp, body := get(t, client, "GET", base+"/proto", nil)
	want := "HTTP/2.0 " + tlsState + " yes"
	if resp.ProtoMajor != 2 || body != want {
		t.Errorf("GET /proto: %s %q, want HTTP/2 %q", resp.Proto, body, want)
	}
	if native && resp.Header.Get("X-In-Loop") != "true" {
		t.Errorf("the native handler ran off its loop under HTTP/2 (X-In-Loop %q)", resp.Header.Get("X-In-Loop"))
	}
	// Bodies below and above what is read before the handler runs.
	for _, n := range []int{0, 100, 8 << 10, 200 << 10} {
		sent := bytes.Repeat([]byte("0123456789abcdef"), n/16)
		resp, body := get(t, client, "POST", base+"/echo", sent)
		if resp.StatusCode != 200 || body != string(sent) {
			t.Errorf("POST /echo of %d bytes: %s, %d bytes back", len(sent), resp.Status, len(body))
		}
	}
	if !native {
		return
	}
	resp, body = get(t, client, "GET", base+"/big?kib=300", nil)
	if resp.StatusCode != 200 || len(body) != 300<<10 {
		t.Errorf("GET /big: %s, %d bytes, want 200 and %d", resp.Status, len(body), 300<<10)
	}
	_, body = get(t, client, "GET", base+"/adapted", nil)
	if body != "adapted HTTP/2.0" {
		t.Errorf("GET /adapted: %q", body)
	}
	resp, body = get(t, client, "GET", base+"/sleep", nil)
	if body != "slept" {
		t.Errorf("GET /sleep: %s %q", resp.Status, body)
	}
	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, fmt.Sprint(code, " ", h.Get("Link")))
		return nil
	}}
	req, _ := nethttp.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", base+"/hints", nil)
	if resp, err := client.Do(req); err != nil {
		t.Error(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "hinted" || len(hints) != 1 || hints[0] != "103 </style.css>; rel=preload" {
			t.Errorf("GET /hints: %s %q, 1xx %q; want 103 with its Link, then hinted", resp.Status, b, hints)
		}
		if resp.Header.Get("Link") != "" {
			t.Errorf("the 103's fields leaked into the final response: %v", resp.Header)
		}
	}
	resp, _ = get(t, client, "GET", base+"/panic", nil)
	if resp.StatusCode != 500 {
		t.Errorf("GET /panic: %s, want 500", resp.Status)
	}
	resp, _ = get(t, client, "HEAD", base+"/proto", nil)
	if resp.StatusCode != 200 {
		t.Errorf("HEAD /proto: %s", resp.Status)
	}
}

// Over TLS the server offers h2: Go's client, which asks for it, is
// served HTTP/2 by both kinds of handler, which see the TLS state.
func TestServerHTTP2TLS(t *testing.T) {
	for _, native := range []bool{true, false} {
		t.Run(fmt.Sprintf("native=%v", native), func(t *testing.T) {
			cfg, roots := testTLS(t)
			var h cphttp.Handler = h2Routes(cphttp.Adapt(adaptedMux))
			if !native {
				h = cphttp.Adapt(adaptedMux)
			}
			_, addr := startH2Server(t, h, cfg, nil)
			tr := &nethttp.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}
			defer tr.CloseIdleConnections()
			h2Checks(t, &nethttp.Client{Transport: tr}, "https://"+addr, "tls h2", native)

			// A client that speaks only HTTP/1.1 is still served it.
			h1 := &nethttp.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, NextProtos: []string{"http/1.1"}}, TLSNextProto: map[string]func(string, *tls.Conn) nethttp.RoundTripper{}}
			defer h1.CloseIdleConnections()
			resp, body := get(t, &nethttp.Client{Transport: h1}, "GET", "https://"+addr+"/proto", nil)
			if resp.ProtoMajor != 1 || !strings.HasPrefix(body, "HTTP/1.1 tls http/1.1") {
				t.Errorf("an HTTP/1.1 client: %s %q", resp.Proto, body)
			}
		})
	}
}

// DisableHTTP2 keeps TLS connections to HTTP/1.1, whatever the client
// asks.
func TestServerDisableHTTP2(t *testing.T) {
	cfg, roots := testTLS(t)
	_, addr := startH2Server(t, h2Routes(nil), cfg, func(s *cphttp.Server) { s.DisableHTTP2 = true })
	tr := &nethttp.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, body := get(t, &nethttp.Client{Transport: tr}, "GET", "https://"+addr+"/proto", nil)
	if resp.ProtoMajor != 1 || body != "HTTP/1.1 tls http/1.1 yes" {
		t.Errorf("with DisableHTTP2: %s %q", resp.Proto, body)
	}
}

// h2cClient speaks HTTP/2 with prior knowledge on plain TCP.
func h2cClient() (*nethttp.Client, *http2.Transport) {
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	return &nethttp.Client{Transport: tr}, tr
}

// With H2C, a client with prior knowledge is served HTTP/2 on the plain
// listener, and HTTP/1.1 clients as before.
func TestServerH2CPriorKnowledge(t *testing.T) {
	for _, native := range []bool{true, false} {
		t.Run(fmt.Sprintf("native=%v", native), func(t *testing.T) {
			var h cphttp.Handler = h2Routes(cphttp.Adapt(adaptedMux))
			if !native {
				h = cphttp.Adapt(adaptedMux)
			}
			_, addr := startH2Server(t, h, nil, func(s *cphttp.Server) { s.H2C = true })
			client, tr := h2cClient()
			defer tr.CloseIdleConnections()
			h2Checks(t, client, "http://"+addr, "plain", native)

			resp, body := get(t, nethttp.DefaultClient, "GET", "http://"+addr+"/proto", nil)
			if resp.ProtoMajor != 1 || !strings.HasPrefix(body, "HTTP/1.1 plain") {
				t.Errorf("an HTTP/1.1 client: %s %q", resp.Proto, body)
			}
		})
	}
}

// Without H2C, HTTP/2's preface is refused as an HTTP/1.1 request.
func TestServerH2COff(t *testing.T) {
	_, addr := startH2Server(t, h2Routes(nil), nil, nil)
	resp, _, _ := roundTrip(t, addr, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	if resp.StatusCode < 400 {
		t.Errorf("the preface without H2C: %s, want a refusal", resp.Status)
	}
	// And after a request, the preface is not honoured even with H2C.
	_, addr = startH2Server(t, h2Routes(nil), nil, func(s *cphttp.Server) { s.H2C = true })
	c, br := rawConn(t, addr)
	c.Write([]byte("GET /proto HTTP/1.1\r\nHost: x\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	if resp, _, err := readResponse(br); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first request: %v %v", resp, err)
	}
	if resp, _, err := readResponse(br); err != nil || resp.StatusCode < 400 {
		t.Errorf("a preface after a request: %v %v, want a refusal", resp, err)
	}
}

// An HTTP/1.1 request that asks to upgrade to h2c is answered 101 and
// then over HTTP/2 as stream 1 (RFC 7540 3.2).
func TestServerH2CUpgrade(t *testing.T) {
	_, addr := startH2Server(t, h2Routes(nil), nil, func(s *cphttp.Server) { s.H2C = true })
	c, br := rawConn(t, addr)
	c.Write([]byte("GET /proto HTTP/1.1\r\nHost: x\r\nX-Test: up\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"))
	resp, err := nethttp.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "h2c" {
		t.Fatalf("upgrade answered %s %v", resp.Status, resp.Header)
	}
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, br)
	fr.ReadMetaHeaders = nil
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var body []byte
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading frames (body so far %q): %v", body, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.DataFrame:
			if f.StreamID == 1 {
				body = append(body, f.Data()...)
				if f.StreamEnded() {
					if want := "HTTP/2.0 plain up"; string(body) != want {
						t.Errorf("stream 1 after the upgrade: %q, want %q", body, want)
					}
					return
				}
			}
		}
	}
}

// Limits.MaxBodyBytes holds on HTTP/2 as on HTTP/1.1: a larger declared
// length is refused before the handler runs, a body that grows past it
// fails the handler's Read and is answered 413.
func TestServerHTTP2BodyLimit(t *testing.T) {
	for _, native := range []bool{true, false} {
		t.Run(fmt.Sprintf("native=%v", native), func(t *testing.T) {
			var h cphttp.Handler = h2Routes(nil)
			if !native {
				h = cphttp.Adapt(adaptedMux)
			}
			_, addr := startH2Server(t, h, nil, func(s *cphttp.Server) {
				s.H2C = true
				s.Limits.MaxBodyBytes = 64 << 10
			})
			client, tr := h2cClient()
			defer tr.CloseIdleConnections()
			big := bytes.Repeat([]byte("z"), 100<<10)
			resp, _ := get(t, client, "POST", "http://"+addr+"/echo", big)
			if resp.StatusCode != 413 {
				t.Errorf("a declared body past the limit: %s, want 413", resp.Status)
			}
			if !native {
				return // net/http's handler answers a failed Read its own way
			}
			req, _ := nethttp.NewRequest("POST", "http://"+addr+"/echo", io.MultiReader(bytes.NewReader(big))) // no length
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.ProtoMajor != 2 || resp.StatusCode != 413 {
				t.Errorf("a body of no declared length past the limit: %s %s, want HTTP/2 413", resp.Proto, resp.Status)
			}
			resp, body := get(t, client, "POST", "http://"+addr+"/echo", big[:1000])
			if resp.StatusCode != 200 || len(body) != 1000 {
				t.Errorf("a body under the limit: %s, %d bytes", resp.Status, len(body))
			}
		})
	}
}

// Shutdown asks HTTP/2 connections to end (GOAWAY) and waits for them.
func TestShutdownHTTP2(t *testing.T) {
	cfg, roots := testTLS(t)
	s, addr := startH2Server(t, h2Routes(nil), cfg, nil)
	tr := &nethttp.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &nethttp.Client{Transport: tr}
	if resp, _ := get(t, client, "GET", "https://"+addr+"/proto", nil); resp.ProtoMajor != 2 {
		t.Fatalf("not HTTP/2: %s", resp.Proto)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with an HTTP/2 connection open: %v", err)
	}
	if _, err := client.Get("https://" + addr + "/proto"); err == nil {
		t.Error("a request after Shutdown succeeded")
	}
}
