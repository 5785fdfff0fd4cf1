package ca_test

import (
	"fmt"
	"os"

	"github.com/cport/cport/herd/ca"
)

func Example() {
	dir, _ := os.MkdirTemp("", "herd-ca")
	defer os.RemoveAll(dir)
	if err := ca.Init(dir, "lab CA", 0); err != nil {
		fmt.Println(err)
		return
	}
	auth, _ := ca.Load(dir)
	agent, _ := auth.Issue(ca.Request{Role: ca.Agent, Name: "web01", SANs: []string{"10.0.0.1"}})
	fmt.Println(ca.RoleOf(agent.Cert), agent.Cert.DNSNames, agent.Cert.IPAddresses)
	// Output: agent [web01] [10.0.0.1]
}
