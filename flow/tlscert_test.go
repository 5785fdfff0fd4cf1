package flow_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/cport/cport/internal/testcert"
)

// testCert is a self-signed ECDSA certificate for 127.0.0.1 and
// localhost, made at test time so no key is ever committed.
type testCert struct {
	cert     tls.Certificate
	pool     *x509.CertPool
	certFile string // PEM files, for openssl
	keyFile  string
}

func newTestCert(t testing.TB) *testCert {
	t.Helper()
	certPEM, keyPEM, err := testcert.New()
	if err != nil {
		t.Fatal(err)
	}
	c := &testCert{pool: x509.NewCertPool()}
	if c.cert, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	c.pool.AppendCertsFromPEM(certPEM)
	dir := testcert.TempDir(t)
	c.certFile, c.keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(c.certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *testCert) server() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.cert}}
}

func (c *testCert) client() *tls.Config {
	return &tls.Config{RootCAs: c.pool, ServerName: "127.0.0.1"}
}
