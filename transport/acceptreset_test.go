package transport

import (
	"bytes"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/cport/cport/loop"
)

// A client that connects and resets before the server takes it off the
// backlog is that client's business: the listener goes on accepting at
// once, as after ECONNABORTED, instead of taking the reset for a failing
// listener (a warning and a pause of AcceptBackoff, during which every
// other client waits). Windows ends the AcceptEx that meets such a client
// with ERROR_NETNAME_DELETED (ECONNRESET); Linux hands the connection over
// and its first read reports the reset.
func TestAcceptAfterClientReset(t *testing.T) {
	g := startGroup(t, 1, loop.Config{})
	var logged lockedBuffer
	made := make(chan string, 16)
	lc := ListenConfig{Logger: slog.New(slog.NewTextHandler(&logged, nil))}
	ln, err := lc.Listen(g, "tcp", "127.0.0.1:0", func() Protocol { return &madeReporter{made: made} })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	ln.PauseAccepting()
	// A round trip through the loop after the pause: it has taken effect,
	// so both clients wait in the kernel's backlog.
	done := make(chan struct{})
	g.Loops()[0].Post(func() { close(done) })
	<-done
	reset := dialNet(t, "tcp", ln.Addr().String()).(*net.TCPConn)
	reset.SetLinger(0)
	reset.Close()
	good := dialNet(t, "tcp", ln.Addr().String())
	defer good.Close()
	ln.ResumeAccepting()

	want := good.LocalAddr().String()
	deadline := time.After(hangGuard)
	for got := ""; got != want; {
		select {
		case got = <-made:
		case <-deadline:
			t.Fatalf("the client after the reset one was never accepted; logged: %s", logged.String())
		}
	}
	if s := logged.String(); s != "" {
		t.Errorf("a client's reset before accept was taken for a listener failure:\n%s", s)
	}
}

// madeReporter sends each connection's remote address as it is made.
type madeReporter struct {
	BaseProtocol
	made chan<- string
}

func (m *madeReporter) ConnectionMade(t Transport) { m.made <- t.RemoteAddr().String() }

// lockedBuffer is a bytes.Buffer that a loop may write while a test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
