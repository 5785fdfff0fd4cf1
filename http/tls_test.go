package http_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"testing"

	cphttp "github.com/cport/cport/http"
	"github.com/cport/cport/internal/looptest"
	"github.com/cport/cport/internal/testcert"
	"github.com/cport/cport/loop"
)

// testTLS returns a server config with a fresh certificate for 127.0.0.1
// and localhost, and a pool that trusts it.
func testTLS(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	certPEM, keyPEM, err := testcert.New()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	return &tls.Config{Certificates: []tls.Certificate{cert}}, roots
}

// startTLSServer serves h over TLS on a two-loop group.
func startTLSServer(t *testing.T, h cphttp.Handler, cfg *tls.Config) (*loop.Group, string) {
	t.Helper()
	looptest.Watch(t)
	g, err := loop.NewGroup(2, loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s := &cphttp.Server{Handler: h, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	addr, err := s.ListenTLS(g, "tcp", "127.0.0.1:0", cfg)
	if err != nil {
		g.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		g.Close()
	})
	return g, addr.String()
}

// The server over TLS: a client that offers only HTTP/1.1 is answered in
// it (ALPN "http/1.1", which the server offers whatever the config's
// NextProtos say), and the handler sees the TLS state, natively and
// through Adapt. (HTTP/2 over TLS: h2_test.go.)
func TestServerTLS(t *testing.T) {
	cfg, roots := testTLS(t)
	cfg.NextProtos = []string{"h2"} // the server must not take its protocols from here
	mux := nethttp.NewServeMux()
	mux.HandleFunc("/adapted", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if r.TLS == nil {
			w.WriteHeader(500)
			return
		}
		io.WriteString(w, "adapted "+r.TLS.NegotiatedProtocol)
	})
	adapted := cphttp.Adapt(mux)
	_, addr := startTLSServer(t, cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		if string(r.Path()) == "/adapted" {
			adapted.ServeHTTP(w, r)
			return
		}
		cs := r.TLS()
		if cs == nil {
			w.WriteHeader(500)
			return
		}
		w.WriteString("native " + cs.NegotiatedProtocol)
	}), cfg)
	client := &nethttp.Client{Transport: &nethttp.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, NextProtos: []string{"http/1.1"}},
		TLSNextProto:    map[string]func(string, *tls.Conn) nethttp.RoundTripper{}, // HTTP/1.1 only
	}}
	defer client.CloseIdleConnections()
	for path, want := range map[string]string{"/": "native http/1.1", "/adapted": "adapted http/1.1"} {
		resp, err := client.Get("https://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.ProtoMajor != 1 || string(body) != want {
			t.Errorf("%s: %s %s %q, want 200 HTTP/1.1 %q", path, resp.Proto, resp.Status, body, want)
		}
	}
}

// cport's client speaks https: it verifies the server's certificate as
// Go's client does (an untrusted one fails), reuses the connection, and
// talks to servers that are not cport.
func TestClientHTTPS(t *testing.T) {
	cfg, roots := testTLS(t)
	g, addr := startTLSServer(t, hello, cfg)
	cl := &cphttp.Client{Loops: g, TLSConfig: &tls.Config{RootCAs: roots}}
	defer cl.CloseIdleConnections()
	client := &nethttp.Client{Transport: cl}
	for range 3 {
		resp, err := client.Get("https://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "Hello, World!" {
			t.Fatalf("https GET: %q", body)
		}
	}

	untrusting := &nethttp.Client{Transport: &cphttp.Client{Loops: g}}
	_, err := untrusting.Get("https://" + addr + "/")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("a certificate no root vouches for: %v, want x509.UnknownAuthorityError", err)
	}
	wrongName := &nethttp.Client{Transport: &cphttp.Client{Loops: g, TLSConfig: &tls.Config{RootCAs: roots, ServerName: "example.com"}}}
	_, err = wrongName.Get("https://" + addr + "/")
	var hostErr x509.HostnameError
	if !errors.As(err, &hostErr) {
		t.Errorf("a certificate for another name: %v, want x509.HostnameError", err)
	}

	other := httptest.NewTLSServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		io.WriteString(w, "go's "+r.Proto)
	}))
	defer other.Close()
	pool := x509.NewCertPool()
	pool.AddCert(other.Certificate())
	goClient := &nethttp.Client{Transport: &cphttp.Client{Loops: g, TLSConfig: &tls.Config{RootCAs: pool}}}
	resp, err := goClient.Get(other.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "go's HTTP/1.1") {
		t.Errorf("Go's TLS server said %q", body)
	}
}
