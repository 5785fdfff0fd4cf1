package sshsession

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/crypto/ssh"

	"github.com/cport/cport/loop"
)

// chunks is a reader returning its parts one Read at a time, then EOF.
type chunks struct{ parts []string }

func (c *chunks) Read(b []byte) (int, error) {
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(b, c.parts[0])
	if n == len(c.parts[0]) {
		c.parts = c.parts[1:]
	} else {
		c.parts[0] = c.parts[0][n:]
	}
	return n, nil
}

// TestPidReader: the pid lines come off the head of stdout, however the
// reads split them, and every other byte is passed on as it came.
func TestPidReader(t *testing.T) {
	for _, tt := range []struct {
		name  string
		want  int // pid lines expected
		parts []string
		pids  []int
		out   string
	}{
		{"pid, then output", 1, []string{"123\nhello\n"}, []int{123}, "hello\n"},
		{"no output", 1, []string{"123\n"}, []int{123}, ""},
		{"split pid", 1, []string{"1", "2", "3", "\n", "x"}, []int{123}, "x"},
		{"output with no newline", 1, []string{"77\n", "no newline"}, []int{77}, "no newline"},
		{"digits first", 1, []string{"77\n4242\n"}, []int{77}, "4242\n"},
		{"binary", 1, []string{"9\n\x00\x01\xff"}, []int{9}, "\x00\x01\xff"},
		{"two pid lines", 2, []string{"10\n", "20\nout"}, []int{10, 20}, "out"},
		{"second pid missing", 2, []string{"10\nsudo: a password is required\n"}, []int{10}, "sudo: a password is required\n"},
		{"not a pid", 1, []string{"hello\n123\n"}, nil, "hello\n123\n"},
		{"not a pid, split", 1, []string{"12", "a\n"}, nil, "12a\n"},
		{"partial pid at EOF", 1, []string{"12"}, nil, "12"},
		{"empty", 1, nil, nil, ""},
		{"empty line", 1, []string{"\nx"}, nil, "\nx"},
		{"too long", 1, []string{"12345678901234567890\n"}, nil, "12345678901234567890\n"},
		{"init", 1, []string{"1\nx"}, nil, "1\nx"}, // kill -9 -1 is every process
	} {
		t.Run(tt.name, func(t *testing.T) {
			lines := newPidLines(tt.want)
			out, err := io.ReadAll(newPidReader(&chunks{parts: append([]string(nil), tt.parts...)}, lines))
			if err != nil {
				t.Fatal(err)
			}
			pids, more := lines.get()
			if string(out) != tt.out || !equalInts(pids, tt.pids) || more {
				t.Errorf("output %q pids %v (more to come: %v), want %q %v", out, pids, more, tt.out, tt.pids)
			}
		})
	}
}

// TestPidReaderOneByte: the same through reads of one byte each.
func TestPidReaderOneByte(t *testing.T) {
	lines := newPidLines(1)
	out, err := io.ReadAll(newPidReader(iotest.OneByteReader(bytes.NewReader([]byte("31337\nabc"))), lines))
	if pids, _ := lines.get(); err != nil || string(out) != "abc" || !equalInts(pids, []int{31337}) {
		t.Errorf("output %q pids %v err %v", out, pids, err)
	}
}

// TestPidReaderError: a read error after the head reaches the reader.
func TestPidReaderError(t *testing.T) {
	lines := newPidLines(1)
	r := io.MultiReader(bytes.NewReader([]byte("5\nab")), iotest.ErrReader(io.ErrUnexpectedEOF))
	out, err := io.ReadAll(newPidReader(r, lines))
	if err != io.ErrUnexpectedEOF || string(out) != "ab" {
		t.Errorf("output %q err %v, want \"ab\" and %v", out, err, io.ErrUnexpectedEOF)
	}
}

// TestKillCommandSudo: under sudo, the kill runs as root through sudo -n
// (what it does is TestKillCommandKills's).
func TestKillCommandSudo(t *testing.T) {
	plain, sudo := killCommand([]int{42, 43}, false), killCommand([]int{42, 43}, true)
	script, ok := strings.CutPrefix(plain, "exec /bin/sh -c ")
	if !ok || sudo != "sudo -n -- /bin/sh -c "+script {
		t.Errorf("plain %s\nsudo  %s", plain, sudo)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestKillModeConfig: each kill mode sends its own line, and an unknown
// mode is refused.
func TestKillModeConfig(t *testing.T) {
	l, err := loop.Start(loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	hk := func(string, net.Addr, ssh.PublicKey) error { return nil }
	c, err := New(Config{Loop: l, HostKey: hk, Kill: KillGuard})
	if err != nil {
		t.Fatal(err)
	}
	if line, n := c.remoteCommand("true"); line != Guard("true") || n != 0 {
		t.Errorf("KillGuard sends %q with %d pid lines", line, n)
	}
	if _, err := New(Config{Loop: l, HostKey: hk, Kill: KillNone + 1}); err == nil {
		t.Error("an unknown kill mode: no error")
	}
	c, _ = New(Config{Loop: l, HostKey: hk})
	if line, n := c.remoteCommand("true"); line != "echo $$; true" || n != 1 {
		t.Errorf("default sends %q with %d pid lines", line, n)
	}
	c, _ = New(Config{Loop: l, HostKey: hk, Kill: KillNone, Sudo: true})
	if line, n := c.remoteCommand("true"); line != "sudo -n -- sh -c 'true'" || n != 0 {
		t.Errorf("KillNone with sudo sends %q with %d pid lines", line, n)
	}
}
