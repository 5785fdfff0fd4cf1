package sshsession

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/cport/cport/herd/runner"
	"github.com/cport/cport/internal/sshtest"
)

// TestCloseResets: a session's connection ends with a TCP reset, which
// OpenSSH's sshd handles as it does a client's disconnect message, not
// with a FIN, after which it runs its whole, dearer exit.
func TestCloseResets(t *testing.T) {
	key := sshtest.NewKey(t)
	srv := sshtest.Start(t, "alice", key.PublicKey())
	// A proxy in front of the server tells how the client's side ended.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ended := make(chan error, 1)
	go func() {
		client, err := ln.Accept()
		if err != nil {
			ended <- err
			return
		}
		defer client.Close()
		server, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			ended <- err
			return
		}
		defer server.Close()
		go io.Copy(client, server)
		_, err = io.Copy(server, client)
		if err == nil {
			err = io.EOF // io.Copy reports a clean end of stream as nil
		}
		ended <- err
	}()
	addr := ln.Addr().String()
	c := setup(t, key, sshtest.KnownHosts(t, srv.HostKey.PublicKey(), addr), false)
	r := runner.New(c, nil, runner.Config{ConnectTimeout: 20 * time.Second})
	results, err := r.Run(c.cfg.Loop, []string{addr}, "exit 0")
	if err != nil {
		t.Fatal(err)
	}
	if results[0].Class != runner.OK {
		t.Fatalf("%v (%v), want ok", results[0].Class, results[0].Err)
	}
	select {
	case err := <-ended:
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("the connection ended with %v, want a reset", err)
		}
	case <-time.After(20 * time.Second): // a guard against a hang, not a measure
		t.Fatal("the connection did not end")
	}
}
