package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cport/cport/internal/testcert"
)

// writeTestCert writes a fresh self-signed ECDSA certificate for
// 127.0.0.1 and its key as PEM files, and returns their paths and a pool
// trusting the certificate. Keys are made at test time, never committed.
func writeTestCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	certPEM, keyPEM, err := testcert.New()
	if err != nil {
		t.Fatal(err)
	}
	dir := testcert.TempDir(t)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return certFile, keyFile, pool
}

// cport echo --tls in both styles echoes to Go's tls client.
func TestEchoTLS(t *testing.T) {
	certFile, keyFile, pool := writeTestCert(t)
	for _, style := range []string{"callback", "flow"} {
		t.Run(style, func(t *testing.T) {
			g, addr, stop, err := serveEcho(echoConfig{addr: "127.0.0.1:0", loops: 2, balance: "reuseport",
				style: style, tls: certFile + "," + keyFile})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			defer stop()
			for i := range 3 {
				c, err := tls.Dial("tcp", addr.String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(30 * time.Second))
				msg := bytes.Repeat([]byte{byte(i), 'x', 'y'}, 100<<10)
				go c.Write(msg)
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
					t.Errorf("conn %d: err %v, equal %v", i, err, bytes.Equal(got, msg))
				}
				c.Close()
			}
		})
	}
}

func TestEchoTLSRejectsBadFlag(t *testing.T) {
	certFile, _, _ := writeTestCert(t)
	for _, spec := range []string{"only-one", certFile + "," + certFile, ",x"} {
		g, _, _, err := serveEcho(echoConfig{addr: "127.0.0.1:0", balance: "reuseport", style: "flow", tls: spec})
		if err == nil {
			g.Close()
			t.Errorf("--tls %q accepted", spec)
		}
	}
}
