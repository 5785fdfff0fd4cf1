package ca_test

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cport/cport/herd/ca"
)

func TestInitAndIssue(t *testing.T) {
	dir := t.TempDir()
	if err := ca.Init(dir, "", 0); err != nil {
		t.Fatal(err)
	}
	if err := ca.Init(dir, "", 0); err == nil {
		t.Fatal("a second Init replaced the CA")
	}
	auth, err := ca.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := auth.Cert.NotAfter.Sub(auth.Cert.NotBefore); got < ca.CALifetime || got > ca.CALifetime+time.Hour {
		t.Errorf("CA lifetime %v, want %v", got, ca.CALifetime)
	}
	if st, err := os.Stat(filepath.Join(dir, ca.CAKeyFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("ca.key mode %v, %v; want 0600", st.Mode(), err)
	}

	agent, err := auth.Issue(ca.Request{Role: ca.Agent, Name: "web01", SANs: []string{"127.0.0.2", "web01.lab"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.Write(dir, "web01"); err != nil {
		t.Fatal(err)
	}
	if err := agent.Write(dir, "web01"); err == nil {
		t.Fatal("Write replaced an issued certificate")
	}
	if st, _ := os.Stat(filepath.Join(dir, "web01.key")); st.Mode().Perm() != 0o600 {
		t.Fatalf("web01.key mode %v, want 0600", st.Mode())
	}
	if got := agent.Cert.NotAfter.Sub(agent.Cert.NotBefore); got < ca.LeafLifetime || got > ca.LeafLifetime+time.Hour {
		t.Errorf("leaf lifetime %v, want %v", got, ca.LeafLifetime)
	}
	if ca.RoleOf(agent.Cert) != ca.Agent {
		t.Errorf("agent certificate's role %q", ca.RoleOf(agent.Cert))
	}
	for _, h := range []string{"web01", "web01.lab", "127.0.0.2"} {
		if err := agent.Cert.VerifyHostname(h); err != nil {
			t.Errorf("agent certificate not valid for %s: %v", h, err)
		}
	}
	if agent.Cert.VerifyHostname("127.0.0.3") == nil {
		t.Error("agent certificate valid for a host it does not name")
	}

	ctl, err := auth.Issue(ca.Request{Role: ca.Controller, Name: "ops", Lifetime: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if ca.RoleOf(ctl.Cert) != ca.Controller {
		t.Errorf("controller certificate's role %q", ca.RoleOf(ctl.Cert))
	}
	pool, err := ca.Pool(filepath.Join(dir, ca.CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	client := x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if _, err := ctl.Cert.Verify(client); err != nil {
		t.Errorf("controller certificate fails client verification: %v", err)
	}
	if _, err := agent.Cert.Verify(client); err == nil {
		t.Error("agent certificate passes client verification")
	}
	server := x509.VerifyOptions{Roots: pool, DNSName: "web01", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if _, err := agent.Cert.Verify(server); err != nil {
		t.Errorf("agent certificate fails server verification: %v", err)
	}
}

func TestIssueRefuses(t *testing.T) {
	dir := t.TempDir()
	if err := ca.Init(dir, "test", 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	auth, err := ca.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []ca.Request{
		{Role: ca.Agent},
		{Role: "admin", Name: "x"},
		{Role: ca.Agent, Name: "a", SANs: []string{"user@host"}},
	} {
		if _, err := auth.Issue(req); err == nil {
			t.Errorf("Issue(%+v) succeeded", req)
		}
	}
	// A leaf never outlives its CA.
	is, err := auth.Issue(ca.Request{Role: ca.Controller, Name: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if is.Cert.NotAfter.After(auth.Cert.NotAfter) {
		t.Errorf("leaf ends %v, after its CA %v", is.Cert.NotAfter, auth.Cert.NotAfter)
	}
}
