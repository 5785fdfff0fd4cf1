package agent_test

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cport/cport/herd/agent"
	"github.com/cport/cport/herd/ca"
)

// An agent's TLS configuration refuses client certificates without the
// controller role, such as another agent's.
func ExampleVerifyControllerRole() {
	dir, _ := os.MkdirTemp("", "herd-example")
	defer os.RemoveAll(dir)
	ca.Init(dir, "example CA", 0)
	auth, _ := ca.Load(dir)
	web, _ := auth.Issue(ca.Request{Role: ca.Agent, Name: "web01"})
	ops, _ := auth.Issue(ca.Request{Role: ca.Controller, Name: "ops"})
	web.Write(dir, "web01")

	cfg, _ := agent.ServerTLS(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "web01.crt"), filepath.Join(dir, "web01.key"))
	fmt.Println(cfg.VerifyPeerCertificate(nil, [][]*x509.Certificate{{web.Cert}}))
	fmt.Println(cfg.VerifyPeerCertificate(nil, [][]*x509.Certificate{{ops.Cert}}))
	// Output:
	// client certificate "web01" refused: carries the agent role, not controller
	// <nil>
}
