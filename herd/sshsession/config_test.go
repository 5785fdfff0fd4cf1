package sshsession

import (
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/cport/cport/herd/runner"
	"github.com/cport/cport/internal/sshtest"
	"github.com/cport/cport/loop"
)

// withConfig returns a Connector that resolves hosts through the ssh
// config text and hc's command-line fields; its defaults (user nobody,
// port 1) reach nothing, so a test passes only if the config was used.
func withConfig(t *testing.T, config string, hc *HostConfig) *Connector {
	t.Helper()
	return withConfigWorkers(t, config, hc, 16)
}

// withConfigWorkers is withConfig with a pool of workers workers: one for
// each host in flight.
func withConfigWorkers(t *testing.T, config string, hc *HostConfig, workers int) *Connector {
	t.Helper()
	t.Setenv("HOME", t.TempDir()) // no default keys or known_hosts
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	file, err := LoadConfig(path, true)
	if err != nil {
		t.Fatal(err)
	}
	hc.File = file
	l, err := loop.Start(loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	c, err := New(Config{Loop: l, Workers: workers, User: "nobody", Port: 1, Hosts: hc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Wait(5 * time.Second) })
	return c
}

// runOne runs cmd on host and returns the result and its stdout.
func runOne(t *testing.T, c *Connector, host, cmd string, cfg runner.Config) (runner.Result, string) {
	t.Helper()
	bufs := &buffers{out: map[string]*strings.Builder{}, err: map[string]*strings.Builder{}}
	res, err := runner.New(c, bufs, cfg).Run(c.cfg.Loop, []string{host}, cmd)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := bufs.get(host)
	return res[0], out
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigHostAlias(t *testing.T) {
	keyPath, key := sshtest.NewKeyFile(t)
	srv := sshtest.Start(t, "alice", key.PublicKey())
	known := sshtest.KnownHosts(t, srv.HostKey.PublicKey(), srv.Addr)
	c := withConfig(t, fmt.Sprintf(`
Host web w*
  HostName 127.0.0.1
  Port %s
  User alice
  IdentityFile %s
  UserKnownHostsFile %s
`, portOf(t, srv.Addr), keyPath, known), &HostConfig{})
	for _, host := range []string{"web", "wx"} {
		res, out := runOne(t, c, host, "out via alias", runner.Config{})
		if res.Class != runner.OK || out != "via alias\n" {
			t.Errorf("%s: %v (%v), stdout %q; want ok through HostName, Port, User, IdentityFile", host, res.Class, res.Err, out)
		}
	}
	// The name's own user@ beats the config's User.
	if res, _ := runOne(t, c, "bob@web", "exit 0", runner.Config{}); res.Class != runner.AuthFailed {
		t.Errorf("bob@web: %v (%v), want auth (bob is not let in)", res.Class, res.Err)
	}
}

func TestConfigFlagsOverride(t *testing.T) {
	keyPath, key := sshtest.NewKeyFile(t)
	srv := sshtest.Start(t, "alice", key.PublicKey())
	known := sshtest.KnownHosts(t, srv.HostKey.PublicKey(), srv.Addr)
	config := fmt.Sprintf("Host web\n  HostName 127.0.0.1\n  Port %s\n  User mallory\n", portOf(t, sshtest.ClosedPort(t)))
	c := withConfig(t, config, &HostConfig{User: "alice", Port: atoi(t, portOf(t, srv.Addr)),
		Identities: []string{keyPath}, KnownHosts: []string{known}})
	if res, _ := runOne(t, c, "web", "exit 0", runner.Config{}); res.Class != runner.OK {
		t.Errorf("-l and -p over the config: %v (%v), want ok", res.Class, res.Err)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestProxyJump(t *testing.T) {
	keyPath, key := sshtest.NewKeyFile(t)
	target := sshtest.Start(t, "alice", key.PublicKey())
	// Only the last jump host can resolve target.internal.
	gate2 := sshtest.StartOptions(t, sshtest.Options{User: "jumper", Key: key.PublicKey(),
		Routes: map[string]string{"target.internal:22": target.Addr}})
	gate := sshtest.StartOptions(t, sshtest.Options{User: "jumper", Key: key.PublicKey()})
	known := sshtest.KnownHosts(t, gate.HostKey.PublicKey(), gate.Addr)
	for _, line := range []struct {
		key  ssh.PublicKey
		addr string
	}{{gate2.HostKey.PublicKey(), gate2.Addr}, {target.HostKey.PublicKey(), "target.internal:22"}} {
		data, _ := readFile(sshtest.KnownHosts(t, line.key, line.addr))
		appendFile(t, known, data)
	}
	c := withConfig(t, fmt.Sprintf(`
Host one
  HostName target.internal
  Port 22
  User alice
  ProxyJump gate2
Host two
  HostName target.internal
  Port 22
  User alice
  ProxyJump gate,jumper@127.0.0.1:%s
Host gate2
  HostName 127.0.0.1
  Port %s
  User jumper
  ProxyJump gate
Host gate
  HostName 127.0.0.1
  Port %s
  User jumper
Host *
  IdentityFile %s
  UserKnownHostsFile %s
`, portOf(t, gate2.Addr), portOf(t, gate2.Addr), portOf(t, gate.Addr), keyPath, known),
		// -l and -p name the target's user and port, not the jump hosts'.
		&HostConfig{User: "alice", Port: 22})

	// "one" jumps to gate2, whose own ProxyJump goes through gate first;
	// "two" names both hops.
	for _, host := range []string{"one", "two"} {
		res, out := runOne(t, c, host, "out jumped", runner.Config{ConnectTimeout: 10 * time.Second})
		if res.Class != runner.OK || out != "jumped\n" {
			t.Fatalf("%s: %v (%v), stdout %q; want ok through the jump hosts", host, res.Class, res.Err, out)
		}
		for _, hop := range []struct {
			srv  *sshtest.Server
			want string
		}{{gate, gate2.Addr}, {gate2, "target.internal:22"}} {
			select {
			case got := <-hop.srv.Forwarded:
				if got != hop.want {
					t.Errorf("%s: a jump host forwarded to %s, want %s", host, got, hop.want)
				}
			case <-time.After(10 * time.Second): // a guard against a hang, not a measure
				t.Fatalf("%s: a jump host forwarded nothing", host)
			}
		}
	}
}

func TestConfigLoopAndBadValues(t *testing.T) {
	c := withConfig(t, "Host a\n  ProxyJump b\nHost b\n  ProxyJump a\nHost badport\n  Port 99999\n",
		&HostConfig{Identities: []string{writeKey(t)}})
	for host, want := range map[string]string{"a": "ProxyJump", "badport": "bad Port"} {
		res, _ := runOne(t, c, host, "exit 0", runner.Config{})
		if res.Class != runner.Error || !strings.Contains(res.Err.Error(), want) {
			t.Errorf("%s: %v (%v), want an error saying %q", host, res.Class, res.Err, want)
		}
	}
	// A host without any credential fails as auth, before dialling.
	nokey := withConfig(t, "", &HostConfig{})
	if res, _ := runOne(t, nokey, "127.0.0.1", "exit 0", runner.Config{}); res.Class != runner.AuthFailed || !strings.Contains(res.Err.Error(), "no credentials") {
		t.Errorf("no key anywhere: %v (%v), want auth saying no credentials", res.Class, res.Err)
	}
}

func TestConfigStrictHostKeyChecking(t *testing.T) {
	keyPath, key := sshtest.NewKeyFile(t)
	srv := sshtest.Start(t, "alice", key.PublicKey())
	known := filepath.Join(t.TempDir(), "known_hosts")
	base := fmt.Sprintf("  HostName 127.0.0.1\n  Port %s\n  User alice\n  IdentityFile %s\n  UserKnownHostsFile %s\n",
		portOf(t, srv.Addr), keyPath, known)
	c := withConfig(t, "Host strict\n"+base+"Host lax\n  StrictHostKeyChecking accept-new\n"+base, &HostConfig{})
	if res, _ := runOne(t, c, "strict", "exit 0", runner.Config{}); res.Class != runner.HostKey {
		t.Errorf("unknown key, strict: %v (%v), want hostkey", res.Class, res.Err)
	}
	if res, _ := runOne(t, c, "lax", "exit 0", runner.Config{}); res.Class != runner.OK {
		t.Errorf("unknown key, accept-new: %v (%v), want ok", res.Class, res.Err)
	}
	if data, _ := readFile(known); !strings.Contains(data, knownhostsLineHost(srv.Addr)) {
		t.Errorf("accept-new recorded nothing in %s:\n%s", known, data)
	}

	// A changed key: accept-new still refuses it, "no" lets it through.
	wrong := sshtest.KnownHosts(t, sshtest.NewKey(t).PublicKey(), srv.Addr)
	base = fmt.Sprintf("  HostName 127.0.0.1\n  Port %s\n  User alice\n  IdentityFile %s\n  UserKnownHostsFile %s\n",
		portOf(t, srv.Addr), keyPath, wrong)
	c = withConfig(t, "Host new\n  StrictHostKeyChecking accept-new\n"+base+"Host off\n  StrictHostKeyChecking no\n"+base, &HostConfig{})
	if res, _ := runOne(t, c, "new", "exit 0", runner.Config{}); res.Class != runner.HostKey {
		t.Errorf("changed key, accept-new: %v (%v), want hostkey", res.Class, res.Err)
	}
	if res, _ := runOne(t, c, "off", "exit 0", runner.Config{}); res.Class != runner.OK {
		t.Errorf("changed key, StrictHostKeyChecking no: %v (%v), want ok", res.Class, res.Err)
	}
	// --accept-new given as false on the command line beats the file.
	c = withConfig(t, "Host off\n  StrictHostKeyChecking no\n"+base, &HostConfig{StrictHostKeyChecking: "yes"})
	if res, _ := runOne(t, c, "off", "exit 0", runner.Config{}); res.Class != runner.HostKey {
		t.Errorf("changed key, file says no, command line yes: %v (%v), want hostkey", res.Class, res.Err)
	}
}

func TestConfigConnectTimeout(t *testing.T) {
	stall := sshtest.Stalling(t)
	c := withConfig(t, fmt.Sprintf("Host slow\n  HostName 127.0.0.1\n  Port %s\n  ConnectTimeout 1\n", portOf(t, stall)),
		&HostConfig{Identities: []string{writeKey(t)}})
	// The runner would wait a minute; the host's ConnectTimeout cuts it.
	res, _ := runOne(t, c, "slow", "exit 0", runner.Config{ConnectTimeout: time.Minute, Retries: -1})
	if res.Class != runner.Unreachable || !strings.Contains(res.Err.Error(), "connect timeout after 1s") {
		t.Errorf("stalled host with ConnectTimeout 1: %v (%v), want unreachable after 1s", res.Class, res.Err)
	}
}

func writeKey(t *testing.T) string {
	t.Helper()
	path, _ := sshtest.NewKeyFile(t)
	return path
}

func TestCertificate(t *testing.T) {
	keyPath, key := sshtest.NewKeyFile(t)
	ca := sshtest.NewKey(t)
	srv := sshtest.StartOptions(t, sshtest.Options{User: "alice", CA: ca.PublicKey()}) // no plain key gets in
	known := sshtest.KnownHosts(t, srv.HostKey.PublicKey(), srv.Addr)
	hc := func() *HostConfig {
		return &HostConfig{User: "alice", Port: atoi(t, portOf(t, srv.Addr)), Identities: []string{keyPath}, KnownHosts: []string{known}}
	}
	c := withConfig(t, "", hc())
	if res, _ := runOne(t, c, "127.0.0.1", "exit 0", runner.Config{}); res.Class != runner.AuthFailed {
		t.Fatalf("plain key against a CA-only server: %v (%v), want auth", res.Class, res.Err)
	}
	cert := &ssh.Certificate{Key: key.PublicKey(), CertType: ssh.UserCert, KeyId: "test",
		ValidPrincipals: []string{"alice"}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath+"-cert.pub", ssh.MarshalAuthorizedKey(cert), 0o600); err != nil {
		t.Fatal(err)
	}
	c = withConfig(t, "", hc())
	if res, _ := runOne(t, c, "127.0.0.1", "exit 0", runner.Config{}); res.Class != runner.OK {
		t.Errorf("key with KEY-cert.pub beside it: %v (%v), want ok", res.Class, res.Err)
	}
}
