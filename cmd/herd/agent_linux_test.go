package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cport/cport/herd/agent"
	"github.com/cport/cport/loop"
)

// agentLab is agents on 127.0.0.2 and up, one server per address, all on
// one port, with certificates made by herd ca. Each address is a host
// that can be killed on its own.
type agentLab struct {
	dir   string
	port  string
	hosts []string
	expr  string // the node set of hosts

	mu      sync.Mutex
	servers map[string]*agentHost
}

// agentHost is one host's agent and its listener.
type agentHost struct {
	srv *agent.Server
	ln  net.Listener
}

// newAgentLab starts agents on 127.0.0.[2-4].
func newAgentLab(t *testing.T) *agentLab { return newAgentLabN(t, 3) }

// newAgentLabN starts agents on n addresses from 127.0.0.2 (n at most
// 250), sharing one loop.
func newAgentLabN(t *testing.T, n int) *agentLab {
	t.Helper()
	lb := &agentLab{dir: filepath.Join(t.TempDir(), "ca"), expr: fmt.Sprintf("127.0.0.[2-%d]", n+1), servers: map[string]*agentHost{}}
	for _, args := range [][]string{
		{"ca", "init", lb.dir},
		{"ca", "issue", lb.dir, "--agent", "lab", "--san", lb.expr},
		{"ca", "issue", lb.dir, "--controller", "ops", "--days", "2"},
	} {
		if code, out, errOut := herd(t, "", args...); code != 0 {
			t.Fatalf("herd %q: %d\n%s%s", args, code, out, errOut)
		}
	}
	if st, err := os.Stat(filepath.Join(lb.dir, "ops.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("controller key: %v, %v; want mode 0600", st, err)
	}
	cfg, err := agent.ServerTLS(filepath.Join(lb.dir, "ca.crt"), filepath.Join(lb.dir, "lab.crt"), filepath.Join(lb.dir, "lab.key"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := loop.NewGroup(1, loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, h := range lb.hosts {
			lb.kill(h)
		}
		g.Close()
	})
	// One port on every address: the first listener picks it; if another
	// address has it taken, start over with another.
	for i := range n {
		lb.hosts = append(lb.hosts, fmt.Sprintf("127.0.0.%d", i+2))
	}
	for attempt := 0; len(lb.servers) < n; attempt++ {
		h := lb.hosts[len(lb.servers)]
		port := "0"
		if len(lb.servers) > 0 {
			port = lb.port
		}
		srv, err := agent.New(agent.Config{TLS: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := srv.Listen(context.Background(), g, net.JoinHostPort(h, port))
		if err != nil {
			if attempt >= 10 {
				t.Fatal(err)
			}
			for _, h := range lb.hosts {
				lb.kill(h)
			}
			continue
		}
		lb.mu.Lock()
		lb.servers[h] = &agentHost{srv: srv, ln: ln}
		lb.mu.Unlock()
		_, lb.port, _ = net.SplitHostPort(ln.Addr().String())
	}
	for _, ah := range lb.servers {
		go ah.srv.Serve(ah.ln)
	}
	return lb
}

// kill stops host's agent: its listener closes, its connections drop and
// their commands are killed, as when the agent's process dies.
func (lb *agentLab) kill(host string) {
	lb.mu.Lock()
	ah := lb.servers[host]
	delete(lb.servers, host)
	lb.mu.Unlock()
	if ah != nil {
		ah.ln.Close()
		ah.srv.Close(5 * time.Second)
	}
}

// flags are the flags that reach the lab's agents.
func (lb *agentLab) flags() []string {
	return []string{"--agent", "--ca", filepath.Join(lb.dir, "ca.crt"),
		"--cert", filepath.Join(lb.dir, "ops.crt"), "--key", filepath.Join(lb.dir, "ops.key"),
		"--agent-port", lb.port}
}

func (lb *agentLab) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	base := append(append([]string{"run"}, lb.flags()...), "--connect-timeout", "5s", "--retries", "0")
	return herd(t, "", append(base, args...)...)
}

func TestRunAgent(t *testing.T) {
	lb := newAgentLab(t)
	code, out, errOut := lb.run(t, "127.0.0.[2-4]", "--", "echo hi; echo warn >&2")
	if code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, errOut)
	}
	for _, h := range lb.hosts {
		if !strings.Contains(out, h+": hi\n") || !strings.Contains(errOut, h+"! warn\n") {
			t.Errorf("no prefixed lines for %s in\n%s\n%s", h, out, errOut)
		}
	}
	if !strings.Contains(errOut, "ok             3  127.0.0.[2-4]") {
		t.Errorf("summary:\n%s", errOut)
	}

	// Gathered: one block for the three hosts.
	code, out, _ = lb.run(t, "-b", "127.0.0.[2-4]", "--", "echo same")
	if code != 0 || strings.Count(out, "same\n") != 1 || !strings.Contains(out, "(3) exit 0") {
		t.Errorf("gather: %d\n%s", code, out)
	}

	// JSON, a host of a name the agent's certificate lacks (127.0.0.5
	// listens nowhere: unreachable), log dir and batches.
	logs := filepath.Join(t.TempDir(), "logs")
	code, out, _ = lb.run(t, "--json", "--batch", "2", "--log-dir", logs, "127.0.0.[2-5]", "--", "echo x; exit 5")
	if code != 2 {
		t.Errorf("exit status %d, want 2 (an unreachable host)", code)
	}
	classes := map[string]string{}
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var rec map[string]any
		if err := dec.Decode(&rec); err != nil {
			break
		}
		if h, ok := rec["host"].(string); ok {
			classes[h], _ = rec["class"].(string)
			if rec["class"] == "failed" && (rec["exit"] != 5.0 || rec["stdout"] != "x\n") {
				t.Errorf("record %v", rec)
			}
		}
	}
	if classes["127.0.0.2"] != "failed" || classes["127.0.0.4"] != "failed" || classes["127.0.0.5"] != "unreachable" {
		t.Errorf("classes %v", classes)
	}
	if data, err := os.ReadFile(filepath.Join(logs, "127.0.0.3.out")); err != nil || string(data) != "x\n" {
		t.Errorf("log file: %q, %v", data, err)
	}
}

func TestRunAgentTimeoutKills(t *testing.T) {
	lb := newAgentLab(t)
	pids := filepath.Join(t.TempDir(), "pids")
	code, _, errOut := lb.run(t, "--timeout", "300ms", "127.0.0.[2-4]", "--", "sleep 1000 & echo $! >> "+pids+"; wait")
	if code != 3 || !strings.Contains(errOut, "timeout        3  ") {
		t.Fatalf("exit status %d, want 3 (timed out); stderr:\n%s", code, errOut)
	}
	data, err := os.ReadFile(pids)
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(data))
	if len(fields) != 3 {
		t.Fatalf("pids %q, want 3", data)
	}
	deadline := time.Now().Add(10 * time.Second) // a guard against a hang, not a measure
	for _, f := range fields {
		pid, _ := strconv.Atoi(f)
		for !processGone(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("the command's child %d outlived its timeout", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func TestRunAgentRefusesSSHFlags(t *testing.T) {
	lb := newAgentLab(t)
	code, _, errOut := lb.run(t, "--sudo", "127.0.0.2", "--", "true")
	if code != exitUsage || !strings.Contains(errOut, "--sudo is for SSH") {
		t.Errorf("--agent --sudo: %d %q", code, errOut)
	}
	code, _, errOut = herd(t, "", "run", "--agent", "127.0.0.2", "--", "true")
	if code != exitUsage || !strings.Contains(errOut, "--agent needs --ca, --cert and --key") {
		t.Errorf("--agent without certificates: %d %q", code, errOut)
	}
}

// processGone reports whether pid has ended: gone from /proc, or a
// zombie.
func processGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

// herd map spreads stdin's lines over the agents; an unreachable target
// takes no job, and every job runs once; the job log has a line each.
func TestMapAgent(t *testing.T) {
	lb := newAgentLab(t)
	joblog := filepath.Join(t.TempDir(), "jobs.log")
	var in strings.Builder
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&in, "item %d\n", i)
	}
	args := append(append([]string{"map"}, lb.flags()...), "--retries", "0", "--slots", "2", "--joblog", joblog,
		"127.0.0.[2-5]", "--", "echo got {}")
	code, out, errOut := herd(t, in.String(), args...)
	if code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, errOut)
	}
	for i := 1; i <= 12; i++ {
		if n := strings.Count(out, fmt.Sprintf("got item %d\n", i)); n != 1 {
			t.Errorf("item %d printed %d times", i, n)
		}
	}
	if !strings.Contains(errOut, "127.0.0.5 failed, took no more jobs") || !strings.Contains(errOut, "12 jobs: 12 ok, 0 failed, 0 not run; 1 of 4 hosts failed: 127.0.0.5") {
		t.Errorf("stderr:\n%s", errOut)
	}
	data, err := os.ReadFile(joblog)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 13 || !strings.HasPrefix(lines[0], "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand") {
		t.Fatalf("job log:\n%s", data)
	}
	for _, l := range lines[1:] {
		fields := strings.Split(l, "\t")
		if len(fields) != 9 || fields[6] != "0" || fields[1] == "127.0.0.5" || !strings.HasPrefix(fields[8], "echo got 'item ") {
			t.Errorf("job log line %q", l)
		}
	}
}
