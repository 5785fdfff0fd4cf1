package sshsession

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"
)

// execSession is an SSH "session" channel that runs one command (RFC
// 4254, section 6.5): what ssh.Session does for herd, on the channel
// itself. ssh.Session reads the channel's requests (the exit status) on a
// goroutine of its own, and copies stdout and stderr to writers on one
// each; an execSession's requests are read by its connection's hostConn
// goroutine, and its output by runCommand's.
type execSession struct {
	ch    ssh.Channel
	reqs  <-chan *ssh.Request
	ended chan struct{} // closed once reqs has ended: the channel is closed
	exit  exitStatus    // set by request before ended closes
}

// exitStatus is how a session's command ended, as its requests said.
type exitStatus struct {
	known  bool   // an "exit-status" or "exit-signal" request came
	code   int    // the exit status, without a signal
	signal string // the signal that killed it, as "KILL", if one did
}

// ok reports whether the command succeeded: exit status 0, no signal.
func (e exitStatus) ok() bool { return e.code == 0 && e.signal == "" }

// Error says how the command ended, as an error for one that failed.
func (e exitStatus) Error() string {
	if e.signal != "" {
		return "killed by signal " + e.signal
	}
	return fmt.Sprintf("exit status %d", e.code)
}

// errNoExitStatus is a session that closed without saying how its
// command ended: its connection was lost, typically.
var errNoExitStatus = errors.New("connection lost before the command's exit status arrived")

// openSession opens a session channel on h.
func openSession(h *hostConn) (*execSession, error) {
	ch, reqs, err := h.OpenChannel("session", nil)
	if err != nil {
		return nil, err
	}
	s := &execSession{ch: ch, reqs: reqs, ended: make(chan struct{})}
	h.serveSession(s)
	return s, nil
}

// start asks the server to run cmd.
func (s *execSession) start(cmd string) error {
	ok, err := s.ch.SendRequest("exec", true, ssh.Marshal(struct{ Command string }{cmd}))
	if err == nil && !ok {
		err = errors.New("the server refused to run the command (its exec request failed)")
	}
	return err
}

// signal sends sig to the command (which OpenSSH ignores for root logins).
func (s *execSession) signal(sig ssh.Signal) error {
	_, err := s.ch.SendRequest("signal", false, ssh.Marshal(struct{ Signal string }{string(sig)}))
	return err
}

// closeStdin sends EOF on the command's stdin.
func (s *execSession) closeStdin() error { return s.ch.CloseWrite() }

// Close closes the channel.
func (s *execSession) Close() error { return s.ch.Close() }

// request takes one of the channel's requests: the exit status or signal
// is kept, and any request wanting a reply is turned down, as ssh.Session
// does.
func (s *execSession) request(r *ssh.Request) {
	switch r.Type {
	case "exit-status":
		var msg struct{ Status uint32 }
		if ssh.Unmarshal(r.Payload, &msg) == nil {
			s.exit = exitStatus{known: true, code: int(msg.Status)}
		}
	case "exit-signal":
		var msg struct {
			Signal     string
			CoreDumped bool
			Error      string
			Lang       string
		}
		if ssh.Unmarshal(r.Payload, &msg) == nil {
			s.exit = exitStatus{known: true, code: -1, signal: safeSignal(msg.Signal)}
		}
	}
	if r.WantReply {
		r.Reply(false, nil)
	}
}

// end says the channel's requests are over.
func (s *execSession) end() { close(s.ended) }

// serve reads the channel's requests until they end, on the caller's
// goroutine.
func (s *execSession) serve() {
	for r := range s.reqs {
		s.request(r)
	}
	s.end()
}

// wait waits for the channel's requests to end and returns how the
// command ended.
func (s *execSession) wait() (exitStatus, error) {
	<-s.ended
	if !s.exit.known {
		return s.exit, errNoExitStatus
	}
	return s.exit, nil
}

// safeSignal keeps a signal name the server sent printable and short: it
// ends up on herd's output.
func safeSignal(name string) string {
	const maxSignalName = 32
	if len(name) > maxSignalName {
		name = name[:maxSignalName]
	}
	for _, c := range []byte(name) {
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("%q", name)
		}
	}
	return name
}
