package agent_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cport/cport/herd/agent"
)

func TestInfo(t *testing.T) {
	fx := startAgent(t, agent.Config{})
	c := fx.dial(t)
	id := c.send(agent.MethodInfo, nil)
	_, _, _, m := c.output(id, nil)
	if m.Error != nil {
		t.Fatalf("info: %+v", m.Error)
	}
	if !strings.Contains(string(m.Result), `"protocol":1`) || !strings.Contains(string(m.Result), `"os":"linux"`) {
		t.Fatalf("info: %s", m.Result)
	}
}

// Output reaches the controller while the command still runs: the
// command prints its second line only after the test has seen the first.
func TestOutputStreams(t *testing.T) {
	fx := startAgent(t, agent.Config{})
	c := fx.dial(t)
	flag := filepath.Join(t.TempDir(), "go")
	id := c.send(agent.MethodRun, agent.RunParams{Job: "1",
		Shell: "echo one; echo err >&2; while [ ! -e " + flag + " ]; do sleep 0.01; done; echo two; exit 3"})
	stdout, stderr, res, m := c.output(id, func(out string) {
		if out == "one\n" {
			if err := os.WriteFile(flag, nil, 0o600); err != nil {
				t.Error(err)
			}
		}
	})
	if m.Error != nil {
		t.Fatalf("run: %+v", m.Error)
	}
	if stdout != "one\ntwo\n" || stderr != "err\n" || res.Exit != 3 {
		t.Fatalf("stdout %q, stderr %q, exit %d; want one two, err, 3", stdout, stderr, res.Exit)
	}
}

func TestArgv(t *testing.T) {
	fx := startAgent(t, agent.Config{})
	c := fx.dial(t)
	id := c.send(agent.MethodRun, agent.RunParams{Job: "1", Argv: []string{"echo", "a b", "$HOME"}})
	stdout, _, res, m := c.output(id, nil)
	if m.Error != nil || stdout != "a b $HOME\n" || res.Exit != 0 {
		t.Fatalf("argv run: %q, %+v, %+v", stdout, res, m.Error)
	}
	id = c.send(agent.MethodRun, agent.RunParams{Job: "2", Argv: []string{"/nonexistent/cmd"}})
	_, _, _, m = c.output(id, nil)
	if m.Error == nil || m.Error.Code != agent.CodeStart {
		t.Fatalf("a missing program: %+v, want a start error", m.Error)
	}
}

// startSleeper runs a shell whose background child outlives it unless
// its process group is killed, and returns the child's pid.
func startSleeper(t *testing.T, c *client, job string, timeoutMS int64) (id, pid int) {
	t.Helper()
	id = c.send(agent.MethodRun, agent.RunParams{Job: job, Shell: "sleep 1000 & echo $!; wait", TimeoutMS: timeoutMS})
	m := c.read()
	if m.Method != agent.NotifyOutput {
		t.Fatalf("first message %+v, want output", m)
	}
	var o struct{ Data []byte }
	if err := json.Unmarshal(m.Params, &o); err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(o.Data)))
	if err != nil || processGone(pid) {
		t.Fatalf("no live child pid in %q", o.Data)
	}
	return id, pid
}

func TestTimeoutKillsGroup(t *testing.T) {
	fx := startAgent(t, agent.Config{})
	c := fx.dial(t)
	id, pid := startSleeper(t, c, "1", 300)
	_, _, res, m := c.output(id, nil)
	if m.Error != nil || !res.TimedOut || res.Signal != "KILL" {
		t.Fatalf("result %+v, %+v; want timed out by KILL", res, m.Error)
	}
	waitGone(t, pid, "after the timeout")
}

func TestCancelKillsGroup(t *testing.T) {
	fx := startAgent(t, agent.Config{})
	c := fx.dial(t)
	id, pid := startSleeper(t, c, "job", 0)
	cid := c.send(agent.MethodCancel, agent.CancelParams{Job: "job"})
	var gotRun, gotCancel bool
	for !gotRun || !gotCancel {
		m := c.read()
		switch {
		case m.ID != nil && *m.ID == cid:
			gotCancel = true
			if m.Error != nil {
				t.Fatalf("cancel: %+v", m.Error)
			}
		case m.ID != nil && *m.ID == id:
			gotRun = true
			if !strings.Contains(string(m.Result), `"canceled":true`) {
				t.Fatalf("run result %s, want canceled", m.Result)
			}
		}
	}
	waitGone(t, pid, "after the cancel")
}

func TestDisconnectKillsGroup(t *testing.T) {
	fx := startAgent(t, agent.Config{})
	c := fx.dial(t)
	_, pid := startSleeper(t, c, "1", 0)
	c.conn.Close()
	waitGone(t, pid, "after the controller disconnected")
}

// A client that connects and never handshakes is let go at the
// handshake timeout, with a log line.
func TestHalfHandshake(t *testing.T) {
	fx := startAgent(t, agent.Config{HandshakeTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", fx.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if err != nil && (!errors.As(err, &ne) || ne.Timeout()) {
		t.Fatalf("the agent kept a silent connection open: read %d bytes, %v", n, err)
	}
	fx.waitLog(t, "no TLS handshake within 200ms")
}

func TestLimits(t *testing.T) {
	fx := startAgent(t, agent.Config{MaxCommands: 1, MaxMessage: 1024})
	c := fx.dial(t)
	id1, pid := startSleeper(t, c, "1", 0)
	id2 := c.send(agent.MethodRun, agent.RunParams{Job: "2", Argv: []string{"true"}})
	_, _, _, m := c.output(id2, nil)
	if m.Error == nil || m.Error.Code != agent.CodeBusy {
		t.Fatalf("second command: %+v, want busy", m.Error)
	}
	_ = id1
	// An oversized message gets an error and the connection ends, which
	// kills the running command.
	c.send("agent.info", strings.Repeat("x", 4096))
	for {
		m = c.read()
		if m.Error != nil && m.Error.Code == -32600 {
			break
		}
	}
	waitGone(t, pid, "after an oversized message ended the connection")
}

// A controller silent while its command runs keeps its connection; one
// silent with nothing running loses it after the idle timeout.
func TestIdleTimeout(t *testing.T) {
	fx := startAgent(t, agent.Config{IdleTimeout: 100 * time.Millisecond})
	c := fx.dial(t)
	id := c.send(agent.MethodRun, agent.RunParams{Job: "1", Shell: "sleep 0.5; echo done"})
	stdout, _, res, m := c.output(id, nil)
	if m.Error != nil || stdout != "done\n" || res.Exit != 0 {
		t.Fatalf("a command outliving the idle timeout: %q, %+v, %+v", stdout, res, m.Error)
	}
	if _, err := c.br.ReadByte(); err == nil {
		t.Fatal("an idle connection was not closed")
	}
	fx.waitLog(t, "idle for 100ms")
}

// With RunAs, commands run as that user, in its home directory.
func TestRunAs(t *testing.T) {
	if agent.CanRunAs() != nil {
		t.Skip("needs root")
	}
	u, err := agent.LookupUser("nobody")
	if err != nil {
		t.Skip("no user nobody:", err)
	}
	fx := startAgent(t, agent.Config{RunAs: u})
	c := fx.dial(t)
	id := c.send(agent.MethodRun, agent.RunParams{Job: "1", Argv: []string{"id", "-u"}})
	stdout, _, res, m := c.output(id, nil)
	if m.Error != nil || res.Exit != 0 || strings.TrimSpace(stdout) != strconv.Itoa(int(u.UID)) {
		t.Fatalf("id -u as nobody: %q, %+v, %+v; want %d", stdout, res, m.Error, u.UID)
	}
}

// Handshakes past MaxHandshakes wait their turn and all succeed; a client
// that connects and says nothing holds no slot.
func TestHandshakeSlots(t *testing.T) {
	fx := startAgent(t, agent.Config{MaxHandshakes: 1, HandshakeTimeout: time.Minute})
	silent, err := net.Dial("tcp", fx.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	errs := make(chan error, 20)
	for range 20 {
		go func() {
			defer func() {
				if p := recover(); p != nil {
					errs <- fmt.Errorf("%v", p)
				}
			}()
			// A client waiting for the silent one's handshake timeout
			// (a minute) would fail at its own 10 s deadline.
			errs <- fx.tryInfo()
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
