package agent_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/cport/cport/herd/agent"
)

// The agent speaks the newest protocol both sides know: version 1 to a
// controller that names none (as controllers before frames), 2 to one
// that asks for 2 or more, 1 when configured to grant no more.
func TestInfoNegotiates(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grant int
		ask   any
		want  int
	}{
		{"no params", 0, nil, agent.ProtocolJSON},
		{"asks for 1", 0, agent.InfoParams{Protocol: 1}, agent.ProtocolJSON},
		{"asks for 2", 0, agent.InfoParams{Protocol: 2}, agent.ProtocolFrames},
		{"asks for 7", 0, agent.InfoParams{Protocol: 7}, agent.ProtocolFrames},
		{"grants 1", agent.ProtocolJSON, agent.InfoParams{Protocol: 2}, agent.ProtocolJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := startAgent(t, agent.Config{Protocol: tc.grant})
			c := fx.dial(t)
			id := c.send(agent.MethodInfo, tc.ask)
			_, _, _, m := c.output(id, nil)
			var info agent.Info
			if m.Error != nil || json.Unmarshal(m.Result, &info) != nil || info.Protocol != tc.want {
				t.Fatalf("info: %s, %+v; want protocol %d", m.Result, m.Error, tc.want)
			}
		})
	}
}

// Under protocol 2 output comes as frames holding the command's bytes
// as they are, NULs and invalid UTF-8 included, between JSON lines.
func TestOutputFrames(t *testing.T) {
	want := []byte("\x00\xff\xfe\n\x80{\"jsonrpc\":\"2.0\"}\n")
	want = append(want, bytes.Repeat([]byte{0, 0xc3}, 50<<10)...) // over an output chunk
	file := filepath.Join(t.TempDir(), "out")
	if err := os.WriteFile(file, want, 0o600); err != nil {
		t.Fatal(err)
	}
	fx := startAgent(t, agent.Config{})
	c := fx.dial(t)
	id := c.send(agent.MethodInfo, agent.InfoParams{Protocol: agent.ProtocolFrames})
	c.output(id, nil)
	id = c.send(agent.MethodRun, agent.RunParams{Job: "j1", Argv: []string{"cat", file}})
	var got []byte
	frames := 0
	for {
		first, err := c.br.Peek(1)
		if err != nil {
			t.Fatal(err)
		}
		if first[0] != agent.FrameOutput {
			break
		}
		hdr, err := agent.ReadOutputHeader(c.br, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Job != "j1" || hdr.Stream != agent.Stdout {
			t.Fatalf("frame %+v, want job j1's stdout", hdr)
		}
		data := make([]byte, hdr.Len)
		if _, err := io.ReadFull(c.br, data); err != nil {
			t.Fatal(err)
		}
		got = append(got, data...)
		frames++
	}
	m := c.read()
	if m.ID == nil || *m.ID != id || m.Error != nil {
		t.Fatalf("after the frames: %+v, want run %d's reply", m, id)
	}
	if frames < 2 || !bytes.Equal(got, want) {
		t.Fatalf("%d frames of %d bytes, want at least 2 frames of the %d bytes written", frames, len(got), len(want))
	}
}
