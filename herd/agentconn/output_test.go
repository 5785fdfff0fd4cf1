package agentconn_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/herd/agent"
	"github.com/cport/cport/herd/agentconn"
)

// awkwardOutput is output no text encoding would carry untouched: every
// byte value, NULs, invalid UTF-8 (lone continuation bytes, a truncated
// sequence, surrogates' encoding), bytes that look like a frame's start
// or a JSON line's end, and a line of 300 KiB without a newline, longer
// than an output chunk, a TLS record and a session's read buffer.
func awkwardOutput() []byte {
	var b bytes.Buffer
	for i := range 256 {
		b.WriteByte(byte(i))
	}
	b.WriteString("\x00\x01\x00{\"jsonrpc\":\"2.0\"}\n\x80\xbf\xc3\xed\xa0\x80\xff\xfe\n\x00")
	rng := rand.New(rand.NewPCG(1, 2))
	long := make([]byte, 300<<10)
	for i := range long {
		long[i] = byte(rng.UintN(256))
		if long[i] == '\n' {
			long[i] = 0
		}
	}
	b.Write(long)
	b.WriteString("\xc3") // ends inside a UTF-8 sequence
	return b.Bytes()
}

// Output bytes reach the controller exactly as the command wrote them,
// over either protocol version: frames, or base64 in JSON notifications
// from an agent that speaks only protocol 1.
func TestOutputBytesExact(t *testing.T) {
	want := awkwardOutput()
	file := filepath.Join(t.TempDir(), "out")
	if err := os.WriteFile(file, want, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		grant    int
		protocol int
	}{
		{"frames", 0, agent.ProtocolFrames},
		{"json", agent.ProtocolJSON, agent.ProtocolJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lb := newLabSpeaking(t, tc.grant)
			s, err := lb.connect(t, lb.clientTLS(t, lb.dir, "ops"), "127.0.0.1:"+lb.port)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.(*agentconn.Session).Info.Protocol; got != tc.protocol {
				t.Fatalf("the session speaks protocol %d, want %d", got, tc.protocol)
			}
			var stdout, stderr bytes.Buffer
			var exit int
			flow.Go(lb.l, func(f *flow.Flow) {
				exit, err = s.(*agentconn.Session).RunArgv(f.Context(),
					[]string{"sh", "-c", `cat "$1"; cat "$1" >&2`, "sh", file}, &stdout, &stderr)
			}).Wait()
			if err != nil || exit != 0 {
				t.Fatalf("run: exit %d, %v", exit, err)
			}
			for name, got := range map[string][]byte{"stdout": stdout.Bytes(), "stderr": stderr.Bytes()} {
				if !bytes.Equal(got, want) {
					t.Errorf("%s: %d bytes, want %d; first difference at %d", name, len(got), len(want), firstDiff(got, want))
				}
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
