package main

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startCportHTTP runs `cport http args…` with files as fds 3… and
// returns the URL of its listener.
func startCportHTTP(t *testing.T, files []*os.File, args ...string) string {
	t.Helper()
	return startCportServer(t, files, `listening on (https?://\S+),`, append([]string{"http", "--loops", "2"}, args...)...)
}

// cport http --tls CERT,KEY --listen-fd 3 serves HTTPS, HTTP/2 included,
// on a listening socket its parent handed it (socket activation).
func TestHTTPTLSListenFD(t *testing.T) {
	certFile, keyFile, roots := writeTestCert(t)
	spec := certFile + "," + keyFile
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := nl.(*net.TCPListener).File()
	nl.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	url := startCportHTTP(t, []*os.File{f}, "--listen-fd", "3", "--tls", spec)
	if want := "https://" + nl.Addr().String(); url != want {
		t.Fatalf("cport http listens on %s, want %s", url, want)
	}
	for _, h2 := range []bool{true, false} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: h2}
		if !h2 {
			tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
		resp, err := client.Get(url + "/plaintext")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		wantMajor := 1
		if h2 {
			wantMajor = 2
		}
		if string(body) != "Hello, World!" || resp.ProtoMajor != wantMajor {
			t.Errorf("GET /plaintext (h2 %v): %s %q, want HTTP/%d and Hello, World!", h2, resp.Proto, body, wantMajor)
		}
	}
}

// h2load, nghttp2's load generator, completes every request over h2
// (TLS) and h2c (prior knowledge) against cport http, with both handler
// styles.
func TestHTTPH2Load(t *testing.T) {
	h2load, err := exec.LookPath("h2load")
	if err != nil {
		t.Skip("h2load is not installed (Debian: nghttp2-client; CI installs it)")
	}
	certFile, keyFile, _ := writeTestCert(t)
	spec := certFile + "," + keyFile
	const requests = 1000
	for _, handler := range []string{"native", "nethttp"} {
		for _, scheme := range []string{"h2c", "h2"} {
			t.Run(handler+"/"+scheme, func(t *testing.T) {
				args := []string{"--addr", "127.0.0.1:0", "--handler", handler}
				if scheme == "h2" {
					args = append(args, "--tls", spec)
				}
				url := startCportHTTP(t, nil, args...)
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				out, err := exec.CommandContext(ctx, h2load, "-n", strconv.Itoa(requests), "-c", "10", "-m", "10", url+"/plaintext").CombinedOutput()
				if err != nil {
					t.Fatalf("h2load: %v\n%s", err, out)
				}
				m := regexp.MustCompile(`requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded`).FindStringSubmatch(string(out))
				if m == nil {
					t.Fatalf("h2load printed no request counts:\n%s", out)
				}
				if m[1] != strconv.Itoa(requests) || m[2] != m[1] {
					t.Errorf("h2load: %s of %s requests succeeded\n%s", m[2], m[1], out)
				}
				if !strings.Contains(string(out), "Application protocol: h2") {
					t.Errorf("h2load did not speak HTTP/2:\n%s", out)
				}
			})
		}
	}
}
