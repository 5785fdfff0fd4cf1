package main

import (
	"bytes"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineWatcher is an io.Writer that records output and signals when a line
// containing want has been written.
type lineWatcher struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *lineWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// The example polls with a one-second timeout, says so while nothing has
// completed, then reports the client that connected.
func TestSeedAcceptPollsThenAccepts(t *testing.T) {
	out := &lineWatcher{want: "nothing completed yet", seen: make(chan struct{})}
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- seedAccept("127.0.0.1:0", "", out, func(a string) { addrc <- a }) }()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-errc:
		t.Fatalf("seedAccept: %v", err)
	}
	select {
	case <-out.seen:
	case <-time.After(10 * time.Second):
		t.Fatalf("no poll timeout reported; output:\n%s", out)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("seedAccept: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("accept never completed; output:\n%s", out)
	}
	want := "connected from " + c.LocalAddr().String()
	if !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}

func TestSeedAcceptBadAddress(t *testing.T) {
	err := seedAccept("not-an-address", "", &bytes.Buffer{}, nil)
	if err == nil {
		t.Fatal("seedAccept accepted a malformed address")
	}
}
