package sshsession

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// KillMode says how a command whose run ends early (its timeout, or
// Ctrl-C) is killed on its host.
type KillMode uint8

const (
	// KillGroup, the default, has the login shell report its pid before
	// it runs the command, and kills the shell's process group through a
	// second session on the same connection when the run ends early.
	// sshd makes each session's login shell a process group leader, so
	// the kill reaches the command and the children it did not detach,
	// for the cost of one echo per host. It cannot act when herd dies or
	// the connection drops: KillGuard can.
	KillGroup KillMode = iota
	// KillGuard wraps the command in a /bin/sh watchdog (see Guard) that
	// kills it when the session ends for any reason, herd's death and a
	// dropped connection included; it costs two processes per host.
	KillGuard
	// KillNone sends the command exactly as given, for login shells that
	// cannot run "echo $$; CMD" (fish, where the whole line then fails;
	// Windows' cmd.exe) or hosts whose sshd runs no shell: an
	// SSH signal request is all that tries to kill it, which OpenSSH
	// ignores for root logins.
	KillNone
)

// KillWait bounds the kill of a command whose run ended early: the wait
// for its pid line, then the second session's kill. Session.Run waits
// for the kill, so a run that ends early returns at most this much later.
const KillWait = 5 * time.Second

// pidPrefix is what KillGroup puts before a command: the login shell
// prints its pid on a line of its own before it runs the command. echo
// is a builtin of sh, bash, zsh, ksh, csh and tcsh. It shares the
// command's first line, not a line of its own, so that the shell's
// messages number the command's lines as they would unwrapped ("sh: 1:
// foo: not found"). A shell parses a whole line before it runs any of
// it, so a syntax error on the first line leaves no pid line; but then
// nothing of the command runs, and there is nothing to kill. (bash
// quotes the whole line in the message for such an error, prefix and
// all.)
const pidPrefix = "echo $$; "

// sudoPidScript runs a command under sudo for KillGroup: the root shell
// sudo starts reports its own pid, since sudo with use_pty runs it in a
// process group (and session) of its own, out of the login shell's, and
// then becomes the shell that runs the command ($1), as "sh -c CMD"
// would run it. One line, so that csh-family login shells accept it.
const sudoPidScript = `echo $$; exec sh -c "$1"`

// groupCommand is the line sent for cmd with KillGroup, and how many pid
// lines come before the command's own output.
func groupCommand(cmd string, sudo bool) (string, int) {
	if sudo {
		return "echo $$; sudo -n -- sh -c " + shellQuote(sudoPidScript) + " sh " + shellQuote(cmd), 2
	}
	return pidPrefix + cmd, 1
}

// killCommand is the command line that kills a command whose pid lines
// said pids: the login shell's process group and, under sudo, the
// sudo'd shell's group first (or the shell alone, when sudo did not make
// it a group leader). It runs in /bin/sh whatever the login shell is,
// and through sudo -n when the command runs as root. It exits 0 when
// every process is killed or was gone already, and otherwise says on
// stderr which it could not kill and why (a process that changed its
// user, which only root may signal).
func killCommand(pids []int, sudo bool) string {
	// "kill -9 -PID", not "kill -9 -- -PID", which dash's kill refuses.
	// Whether a process that could not be killed is gone is in kill -0's
	// message: its exit status is the same for a process that is gone
	// and one this user may not signal. sh, bash, zsh and busybox all say
	// "No such process" (strerror's words, in the C locale).
	var b strings.Builder
	b.WriteString(`k() { kill -9 -$1 2>/dev/null || kill -9 $1 2>/dev/null || { m=$(LC_ALL=C kill -0 $1 2>&1); case $m in *[Nn]o?such?process*) ;; *) echo "pid $1: ${m:-still running}" >&2; s=1;; esac; }; }; s=0;`)
	for i := len(pids) - 1; i >= 0; i-- {
		fmt.Fprintf(&b, " k %d;", pids[i])
	}
	b.WriteString(" exit $s")
	if sudo {
		return "sudo -n -- /bin/sh -c " + shellQuote(b.String())
	}
	return "exec /bin/sh -c " + shellQuote(b.String())
}

// pidLines collects the pid lines at the head of a command's stdout.
type pidLines struct {
	want int           // pid lines expected
	done chan struct{} // closed when all came, or when the head said they will not
	mu   sync.Mutex
	pids []int
}

func newPidLines(want int) *pidLines { return &pidLines{want: want, done: make(chan struct{})} }

// add records a pid and reports whether all are in.
func (p *pidLines) add(pid int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pids = append(p.pids, pid)
	return len(p.pids) == p.want
}

// get returns the pids seen so far, and whether more may still come.
func (p *pidLines) get() ([]int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return p.pids, false
	default:
		return p.pids, true
	}
}

// wait waits at most d for the pid lines to be settled, and returns them.
func (p *pidLines) wait(d time.Duration) []int {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
	}
	pids, _ := p.get()
	return pids
}

// maxPidLine bounds a pid line: 19 digits hold any int64.
const maxPidLine = 19

// pidReader reads a command's stdout with the pid lines taken off its
// head, so that what is left is byte for byte what the command wrote. A
// head that is not a pid line (a login shell that printed something
// else first) is passed on as it came, and the pid is then unknown.
type pidReader struct {
	r     io.Reader
	lines *pidLines
	head  []byte // read but not yet judged
	rest  []byte // judged to be the command's, still to pass on
	err   error  // r's error, once the head has seen it
	body  bool   // the head is over
}

func newPidReader(r io.Reader, lines *pidLines) *pidReader {
	return &pidReader{r: r, lines: lines}
}

func (p *pidReader) Read(b []byte) (int, error) {
	for !p.body {
		p.readHead()
	}
	if len(p.rest) > 0 {
		n := copy(b, p.rest)
		p.rest = p.rest[n:]
		return n, nil
	}
	if p.err != nil {
		return 0, p.err
	}
	return p.r.Read(b)
}

// readHead reads once more and judges the head.
func (p *pidReader) readHead() {
	var buf [64]byte
	n, err := p.r.Read(buf[:])
	p.head = append(p.head, buf[:n]...)
	for {
		i := bytes.IndexByte(p.head, '\n')
		if i < 0 {
			break
		}
		pid, ok := parsePid(p.head[:i])
		if !ok {
			p.endHead()
			return
		}
		p.head = p.head[i+1:]
		if p.lines.add(pid) {
			p.endHead()
			return
		}
	}
	if !digits(p.head) || len(p.head) > maxPidLine {
		p.endHead() // not the start of a pid line
		return
	}
	if err != nil {
		p.err = err
		p.endHead()
	}
}

// endHead passes what is left of the head on as the command's output.
func (p *pidReader) endHead() {
	p.rest, p.head, p.body = p.head, nil, true
	close(p.lines.done)
}

// parsePid parses a pid line's digits.
func parsePid(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > maxPidLine || !digits(b) {
		return 0, false
	}
	pid, err := strconv.Atoi(string(b))
	// Not 1 either: "kill -9 -1" is every process the user may signal.
	// A login shell is never init.
	return pid, err == nil && pid > 1
}

// noPidLine is why a command whose pid never came could not be killed.
const noPidLine = "its login shell printed no pid line before it (a shell that cannot run \"echo $$\", or one that printed something else first); --guard kills by a watchdog instead"

// maxKillOutput bounds what a failed kill's message keeps of its output.
const maxKillOutput = 512

// kill kills the command of sess, whose run ended early, and closes the
// connection: an SSH signal first (which OpenSSH ignores for root logins,
// and which cannot reach a command that sudo runs as root), then, once
// its pid is known, a kill of its process group through a new session.
// All of it within KillWait: a connection that stalls is closed under it.
// It returns why the command may still run on its host, or nil: with
// KillGuard (lines nil) the watchdog kills it as the session ends.
func (s *Session) kill(sess *execSession, lines *pidLines) error {
	defer s.host.Close()
	defer sess.Close()
	sess.signal(ssh.SIGKILL)
	if lines == nil {
		return nil
	}
	stop := time.AfterFunc(KillWait, func() { s.host.Close() })
	defer stop.Stop()
	pids := lines.wait(KillWait)
	if len(pids) == 0 {
		if _, more := lines.get(); more {
			return fmt.Errorf("its pid line had not come %v after the run ended", KillWait)
		}
		return errors.New(noPidLine)
	}
	ks, err := openSession(s.host)
	if err != nil {
		// sshd refuses a session past its MaxSessions (default 10 per
		// connection); a connection that died refuses everything.
		return fmt.Errorf("the session to kill it could not be opened: %v", err)
	}
	defer ks.Close()
	var out limitedBuffer
	exit, err := runCommand(ks, killCommand(pids, s.c.cfg.Sudo), false, nil, &out, &out)
	if err == nil && !exit.ok() {
		err = exit
	}
	if err != nil {
		msg := strings.TrimSpace(out.String())
		if msg == "" {
			return fmt.Errorf("its kill failed: %v", err)
		}
		return fmt.Errorf("its kill failed: %v: %s", err, msg)
	}
	return nil
}

// limitedBuffer keeps the first maxKillOutput bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxKillOutput - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// digits reports whether b holds decimal digits only.
func digits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
