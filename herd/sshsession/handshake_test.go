package sshsession

import (
	"testing"
	"time"

	"github.com/cport/cport/herd/runner"
	"github.com/cport/cport/internal/sshtest"
	"github.com/cport/cport/loop"
)

// TestMaxHandshakes: with MaxHandshakes 2, a fan-out of 4 opens no third
// connection while two are still in their handshake; the others start as
// those end.
func TestMaxHandshakes(t *testing.T) {
	gate := sshtest.StartGate(t) // each connection stays in its handshake until the gate closes it
	l, err := loop.Start(loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	key := sshtest.NewKey(t)
	hk, err := KnownHosts(false, sshtest.KnownHosts(t, key.PublicKey(), gate.Addr))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Loop: l, Workers: 8, User: "alice", HostKey: hk, MaxHandshakes: 2})
	if err != nil {
		t.Fatal(err)
	}
	// No host may time out here: each stalls until the gate closes it.
	r := runner.New(c, nil, runner.Config{Fanout: 4, ConnectTimeout: 30 * time.Second})
	hosts := []string{"a@" + gate.Addr, "b@" + gate.Addr, "c@" + gate.Addr, "d@" + gate.Addr}
	done := make(chan []runner.Result, 1)
	go func() {
		results, err := r.Run(l, hosts, "true")
		if err != nil {
			t.Error(err)
		}
		done <- results
	}()

	if err := gate.Release(2, len(hosts)); err != nil {
		t.Fatal(err)
	}
	select {
	case results := <-done:
		for _, res := range results {
			if res.Class != runner.Unreachable {
				t.Errorf("%s: %v (%v), want unreachable (connection closed in the handshake)", res.Host, res.Class, res.Err)
			}
		}
	case <-time.After(20 * time.Second): // a guard against a hang, not a measure
		t.Fatal("the run did not end")
	}
	if most, arrived := gate.MaxOpen(); most != 2 || arrived != len(hosts) {
		t.Errorf("%d connections, at most %d in their handshake at once; want %d, at most 2", arrived, most, len(hosts))
	}
}
