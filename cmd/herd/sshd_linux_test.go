package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cport/cport/herd/output"
	"github.com/cport/cport/internal/proctest"
)

// jsonRecords reads herd --json output: host records by host.
func jsonRecords(t *testing.T, out string) map[string]output.HostRecord {
	t.Helper()
	recs := map[string]output.HostRecord{}
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var r output.HostRecord
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%v in\n%s", err, out)
		}
		if r.Host != "" { // the summary object has none
			recs[r.Host] = r
		}
	}
	return recs
}

// TestLabCommandsUnchanged: no way of killing changes what a command says
// or returns: exit status, stderr, output without a final newline, a
// command reading its (empty) stdin. (TestLabOutputUnwrapped compares
// the bytes with an unwrapped run's.)
func TestLabCommandsUnchanged(t *testing.T) {
	rl := needLab(t)
	for _, tt := range []struct {
		cmd            string
		exit           int
		stdout, stderr string
	}{
		{"echo out; echo err >&2; echo err2 >&2; exit 3", 3, "out\n", "err\nerr2\n"},
		{"printf 'no newline'", 0, "no newline", ""},
		{"cat; echo read nothing", 0, "read nothing\n", ""},
		{"echo \"$0\" $#", 0, "sh 0\n", ""},
		{"echo 12345; echo 678", 0, "12345\n678\n", ""},
		{"true", 0, "", ""},
	} {
		for _, mode := range killModes {
			args := append(append([]string{"--json", "--timeout", "60s"}, mode.flags...), "127.0.0.[2-3]", "--", tt.cmd)
			code, out, errOut := rl.run(t, args...)
			recs := jsonRecords(t, out)
			if len(recs) != 2 {
				t.Fatalf("%s %q: %d records, want 2\n%s\n%s", mode.name, tt.cmd, len(recs), out, errOut)
			}
			for _, r := range recs {
				if r.Exit != tt.exit || r.Stdout != tt.stdout || r.Stderr != tt.stderr {
					t.Errorf("%s %q on %s: exit %d stdout %q stderr %q; want %d %q %q",
						mode.name, tt.cmd, r.Host, r.Exit, r.Stdout, r.Stderr, tt.exit, tt.stdout, tt.stderr)
				}
			}
			if want := map[bool]int{true: 0, false: 1}[tt.exit == 0]; code != want {
				t.Errorf("%s %q: herd exit %d, want %d", mode.name, tt.cmd, code, want)
			}
		}
	}
}

// TestLabManyHosts: 400 addresses at once (100 with -short), each its own
// host. Most of its time is sshd's: some 100 ms of CPU a connection.
func TestLabManyHosts(t *testing.T) {
	rl := needLab(t)
	hosts, n := "127.0.[1-2].[1-200]", 400
	if testing.Short() {
		hosts, n = "127.0.1.[1-100]", 100
	}
	code, out, errOut := rl.run(t, "--json", "-f", strconv.Itoa(n), "--connect-timeout", "2m", "--retries", "2", hosts, "--", "echo $SSH_CONNECTION")
	recs := jsonRecords(t, out)
	if code != 0 || len(recs) != n {
		t.Fatalf("exit %d, %d records, want 0 and %d; stderr:\n%s", code, len(recs), n, errOut)
	}
	for host, r := range recs {
		// SSH_CONNECTION: client address, client port, server address, server port.
		if f := strings.Fields(r.Stdout); len(f) != 4 || f[2] != host {
			t.Errorf("%s said %q", host, r.Stdout)
		}
	}
}

// TestLabGather: identical outputs fold into one block under their hosts.
func TestLabGather(t *testing.T) {
	rl := needLab(t)
	cmd := `echo same; echo oops >&2; case " $SSH_CONNECTION " in *" 127.0.0.9 "*) echo odd;; esac; exit 3`
	code, out, errOut := rl.run(t, "-b", "127.0.0.[2-21]", "--", cmd)
	if code != 1 {
		t.Errorf("exit %d, want 1; stderr:\n%s", code, errOut)
	}
	for _, block := range []string{
		"127.0.0.[2-8,10-21] (19) exit 3\n",
		"127.0.0.9 (1) exit 3\n",
	} {
		if strings.Count(out, block) != 1 {
			t.Errorf("no block %q in\n%s", block, out)
		}
	}
	if strings.Count(out, "same\noops\n") != 1 || strings.Count(out, "same\nodd\noops\n") != 1 {
		t.Errorf("gathered texts:\n%s", out)
	}
	wantSummary(t, errOut, map[string]string{"failed": "127.0.0.[2-21]"})
}

// TestLabLogDirRerun: --log-dir writes the failed hosts, and --hostfile
// DIR/failed reruns exactly them.
func TestLabLogDirRerun(t *testing.T) {
	rl := needLab(t)
	logs := filepath.Join(t.TempDir(), "logs")
	cmd := `case " $SSH_CONNECTION " in *" 127.0.0.4 "*|*" 127.0.0.7 "*) echo no; exit 1;; esac; echo yes`
	code, _, errOut := rl.run(t, "-q", "--log-dir", logs, "127.0.0.[2-9]", "--", cmd)
	if code != 1 {
		t.Errorf("exit %d, want 1; stderr:\n%s", code, errOut)
	}
	if data, err := os.ReadFile(filepath.Join(logs, "127.0.0.4.out")); err != nil || string(data) != "no\n" {
		t.Errorf("127.0.0.4.out: %q, %v", data, err)
	}
	code, _, errOut = rl.run(t, "--hostfile", filepath.Join(logs, "failed"), "--", "echo $SSH_CONNECTION")
	if code != 0 {
		t.Errorf("rerun: exit %d; stderr:\n%s", code, errOut)
	}
	wantSummary(t, errOut, map[string]string{"ok": "127.0.0.[4,7]"})
}

// TestLabHostKeys: strict checking against the real server's key.
func TestLabHostKeys(t *testing.T) {
	rl := needLab(t)
	host := "127.0.0.2"
	fresh := filepath.Join(t.TempDir(), "known_hosts")
	code, _, errOut := herd(t, "", append(append([]string{"run"}, rl.flags(fresh)...), host, "--", "true")...)
	if code != 2 || !strings.Contains(errOut, "unknown host key") {
		t.Errorf("unknown key: exit %d\n%s", code, errOut)
	}
	code, _, errOut = herd(t, "", append(append([]string{"run", "--accept-new"}, rl.flags(fresh)...), host, "--", "true")...)
	if code != 0 {
		t.Errorf("--accept-new: exit %d\n%s", code, errOut)
	}
	data, _ := os.ReadFile(fresh)
	if !strings.HasPrefix(string(data), fmt.Sprintf("[%s]:%d ssh-ed25519 ", host, rl.port)) {
		t.Errorf("--accept-new recorded %q", data)
	}
	code, _, errOut = herd(t, "", append(append([]string{"run"}, rl.flags(fresh)...), host, "--", "true")...)
	if code != 0 {
		t.Errorf("with the recorded key: exit %d\n%s", code, errOut)
	}

	// Another key for the host, on line 2: the server's key is "changed".
	other := filepath.Join(t.TempDir(), "other")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, _ := os.ReadFile(other + ".pub")
	f := strings.Fields(string(pub))
	changed := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(changed, fmt.Appendf(nil, "# a comment\n[%s]:%d %s %s\n", host, rl.port, f[0], f[1]), 0o600)
	code, _, errOut = herd(t, "", append(append([]string{"run", "--accept-new"}, rl.flags(changed)...), host, "--", "true")...)
	if code != 2 || !strings.Contains(errOut, "HOST KEY CHANGED") || !strings.Contains(errOut, changed+":2") {
		t.Errorf("changed key: exit %d, want 2 and a message naming %s:2\n%s", code, changed, errOut)
	}
	wantSummary(t, errOut, map[string]string{"hostkey": host})
}

// markedHang is a command that runs until killed: a shell and two sleeps,
// all carrying mark.
func markedHang(mark string) string {
	return "exec env " + proctest.Env(mark) + " sh -c 'sleep 300 & sleep 300'"
}

// TestLabTimeoutKills: --timeout kills the command and its children on
// the host, whichever way herd kills, as the lab's user and as root (whose
// signal requests OpenSSH ignores), and as root through sudo.
func TestLabTimeoutKills(t *testing.T) {
	rl := needLab(t)
	for _, mode := range killModes {
		if mode.flags != nil && mode.flags[0] == "--raw" {
			continue // an SSH signal only: no kill for root
		}
		t.Run(mode.name, func(t *testing.T) {
			rl.forLogins(t, func(t *testing.T, login string) { testTimeoutKills(t, rl, login, mode.flags...) })
		})
	}
	// sudo runs the command in a session and process group of its own
	// with use_pty (Debian's default), in the login shell's without.
	for _, pty := range []string{"use_pty", "!use_pty"} {
		t.Run("sudo/"+pty, func(t *testing.T) {
			rl.sudoer(t, pty)
			for _, mode := range killModes[:2] {
				t.Run(mode.name, func(t *testing.T) {
					rl.forLogins(t, func(t *testing.T, login string) {
						testTimeoutKills(t, rl, login, append([]string{"--sudo"}, mode.flags...)...)
					})
				})
			}
		})
	}
}

func testTimeoutKills(t *testing.T, rl *realLab, login string, flags ...string) {
	r, mark := runPastTimeout(t, rl, login, "127.0.0.[2-3]", 6, flags...)
	if r.code != 3 {
		t.Errorf("exit %d, want 3; stderr:\n%s", r.code, r.errOut)
	}
	wantSummary(t, r.errOut, map[string]string{"timeout": "127.0.0.[2-3]"})
	if err := proctest.WaitGone(mark, 20*time.Second); err != nil {
		t.Fatal("after the timeout, the commands are", err)
	}
}

// labRun is how a herd run ended.
type labRun struct {
	code        int
	out, errOut string
}

// runPastTimeout runs markedHang on hosts, as login, with a --timeout
// the commands outlive, and returns how herd ended and the commands'
// mark. procs is how many processes the commands make on all hosts
// together: the command must have started before the timeout for the
// test to mean anything, and on a loaded machine that may take a longer
// timeout.
func runPastTimeout(t *testing.T, rl *realLab, login, hosts string, procs int, flags ...string) (labRun, string) {
	for timeout := 2 * time.Second; ; timeout *= 2 {
		mark := proctest.NewMark()
		t.Cleanup(func() { proctest.Kill(mark) })
		done := make(chan labRun, 1)
		go func() {
			args := append(append([]string{"--timeout", timeout.String()}, flags...), hosts, "--", markedHang(mark))
			code, out, errOut := rl.runAs(t, login, args...)
			done <- labRun{code, out, errOut}
		}()
		started := false
		var r labRun
	wait:
		for {
			select {
			case r = <-done:
				break wait
			case <-time.After(20 * time.Millisecond):
				started = started || len(proctest.Find(mark)) == procs
			}
		}
		if started {
			return r, mark
		}
		if timeout >= time.Minute {
			t.Fatalf("the commands never started; herd said:\n%s", r.errOut)
		}
		t.Logf("the commands had not started within a %v timeout; again with a longer one", timeout)
	}
}

// TestLabInterruptKills: the first SIGINT lets running commands run and
// starts no more hosts; the second kills the running ones on their hosts,
// whichever way herd kills, as root through sudo too.
func TestLabInterruptKills(t *testing.T) {
	rl := needLab(t)
	for _, mode := range killModes[:2] {
		t.Run(mode.name, func(t *testing.T) {
			rl.forLogins(t, func(t *testing.T, login string) { testInterruptKills(t, rl, login, mode.flags...) })
		})
	}
	t.Run("sudo", func(t *testing.T) {
		rl.sudoer(t)
		rl.forLogins(t, func(t *testing.T, login string) { testInterruptKills(t, rl, login, "--sudo") })
	})
}

func testInterruptKills(t *testing.T, rl *realLab, login string, flags ...string) {
	bin := herdBinary(t)
	mark := proctest.NewMark()
	t.Cleanup(func() { proctest.Kill(mark) })
	args := append(append(append([]string{"run"}, rl.flagsAs(login, rl.known)...), flags...), "-f", "2", "127.0.0.[2-4]", "--", markedHang(mark))
	cmd := exec.Command(bin, args...)
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})

	pids := proctest.WaitCount(t, mark, 6, time.Minute) // two hosts, three processes each
	cmd.Process.Signal(os.Interrupt)
	waitFor(t, "herd's answer to the first SIGINT", 20*time.Second, func() bool {
		return strings.Contains(stderr.String(), "starting no more hosts; waiting for 2: 127.0.0.[2-3]")
	})
	// The processes found may still be execing their commands, so ask
	// whether they run, not whether their environment reads.
	if alive := proctest.Alive(pids); len(alive) != len(pids) {
		t.Errorf("after the first SIGINT, %d of the %d marked processes run, want all still running: %v of %v", len(alive), len(pids), alive, pids)
	}
	cmd.Process.Signal(os.Interrupt)
	var err error
	select {
	case err = <-exited:
		exited <- err // for the cleanup
	case <-time.After(time.Minute): // a guard against a hang, not a measure
		t.Fatalf("herd still runs a minute after the second SIGINT; stderr:\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d (%v), want 130; stderr:\n%s", code, err, stderr.String())
	}
	wantSummary(t, stderr.String(), map[string]string{"cancelled": "127.0.0.[2-4]"})
	if err := proctest.WaitGone(mark, 20*time.Second); err != nil {
		t.Fatal("after the second SIGINT, the commands are", err)
	}
}

// TestLabSignalStatus: a command killed by a signal exits 128+N whichever
// way herd kills (through the guard too, as herd reports it unguarded).
func TestLabSignalStatus(t *testing.T) {
	rl := needLab(t)
	for _, mode := range killModes {
		code, out, errOut := rl.run(t, append(append([]string{"--json"}, mode.flags...), "127.0.0.2", "--", "kill -TERM $$")...)
		recs := jsonRecords(t, out)
		if r := recs["127.0.0.2"]; code != 1 || r.Exit != 143 {
			t.Errorf("%s: herd exit %d, record %+v; stderr:\n%s", mode.name, code, r, errOut)
		}
	}
}
