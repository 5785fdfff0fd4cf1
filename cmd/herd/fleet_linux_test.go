package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fleetHosts is how many loopback hosts TestRunAgentFleet serves: 1,000,
// or 200 under the race detector, which slows both ends several times
// over (CI runs the 1,000 without it, in a step of its own).
// HERD_FLEET_HOSTS overrides it.
func fleetHosts(t *testing.T) int {
	if s := os.Getenv("HERD_FLEET_HOSTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("HERD_FLEET_HOSTS=%q: want a positive number", s)
		}
		return n
	}
	if raceEnabled {
		return 200
	}
	return 1000
}

// herd run --agent reaches every host of an agent lab of a thousand
// loopback addresses (tools/agentlab) in one fan-out and runs true on
// each; all succeed, within the default connect timeout: the hosts
// waiting for a handshake slot do not time out.
func TestRunAgentFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts agents for 1,000 hosts")
	}
	n := fleetHosts(t)
	dir := t.TempDir()
	port := freePort(t)
	start := exec.Command("bash", "../../tools/agentlab/start.sh", strconv.Itoa(n), dir)
	start.Env = append(os.Environ(), "HERD="+herdBinary(t), "PORT="+port, "PER_AGENT=500")
	if out, err := start.CombinedOutput(); err != nil {
		t.Fatalf("tools/agentlab/start.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("bash", "../../tools/agentlab/stop.sh", dir).CombinedOutput(); err != nil {
			t.Errorf("tools/agentlab/stop.sh: %v\n%s", err, out)
		}
	})
	hosts, err := os.ReadFile(filepath.Join(dir, "hosts"))
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "ca")
	code, out, errOut := herd(t, "", "run", "--agent", "--ca", filepath.Join(ca, "ca.crt"),
		"--cert", filepath.Join(ca, "ops.crt"), "--key", filepath.Join(ca, "ops.key"), "--agent-port", port,
		"-f", strconv.Itoa(n), "--json", strings.TrimSpace(string(hosts)), "--", "true")
	if code != 0 {
		t.Errorf("exit status %d; stderr:\n%s", code, tail(errOut, 40))
	}
	ok := strings.Count(out, `"class":"ok"`)
	if records := strings.Count(out, `"host":`); ok != n || records != n {
		t.Errorf("%d hosts ok of %d records, want all %d ok; the first others:\n%s\nstderr:\n%s", ok, records, n, notOK(out, 5), tail(errOut, 40))
	}
}

// notOK is the first n records of a --json output whose class is not ok.
func notOK(out string, n int) string {
	var bad []string
	for line := range strings.Lines(out) {
		if len(bad) < n && strings.Contains(line, `"host":`) && !strings.Contains(line, `"class":"ok"`) {
			bad = append(bad, strings.TrimSpace(line))
		}
	}
	return strings.Join(bad, "\n")
}

// freePort returns a TCP port free on 127.0.0.1 a moment ago; the lab
// listens on it on other loopback addresses, where it is as likely free.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[%d lines before]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
