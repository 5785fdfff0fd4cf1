package sshsession_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cport/cport/herd/sshsession"
)

// A HostConfig puts the command line over an ssh config file: here the
// file's ConnectTimeout applies to the hosts it names, the default to
// the others.
func ExampleHostConfig() {
	dir, _ := os.MkdirTemp("", "herd")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "config")
	os.WriteFile(path, []byte("Host slow-*\n  ConnectTimeout 30\n"), 0o600)

	file, err := sshsession.LoadConfig(path, true)
	if err != nil {
		fmt.Println(err)
		return
	}
	hc := &sshsession.HostConfig{File: file, DefaultConnectTimeout: 10 * time.Second}
	fmt.Println(hc.ConnectTimeoutFor("slow-db1"), hc.ConnectTimeoutFor("web1"))
	// Output: 30s 10s
}
