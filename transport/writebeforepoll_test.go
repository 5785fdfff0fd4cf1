package transport

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/cport/cport/loop"
)

// WriteBeforePoll queues at once and sends when the loop is about to
// poll: many writes in one turn arrive whole and in order; the high
// watermark still pauses the protocol; after Close it fails with
// ErrClosed; and off the loop it is Write.
func TestWriteBeforePoll(t *testing.T) {
	g := startGroup(t, 1, loop.Config{})
	rec := newRecorder()
	rec.keepOpen = true
	ln, err := Listen(g, "tcp", "127.0.0.1:0", func() Protocol { return rec })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer := dialNet(t, "tcp", ln.Addr().String())
	defer peer.Close()
	tr := rec.waitMade(t)
	l := g.Loops()[0]

	var want bytes.Buffer
	results := make(chan error, 1)
	if err := l.Post(func() {
		tr.SetWriteBufferLimits(1<<10, 0)
		for i := range 300 {
			chunk := bytes.Repeat([]byte{byte(i)}, 100)
			want.Write(chunk)
			if err := WriteBeforePoll(tr, chunk); err != nil {
				results <- err
				return
			}
		}
		results <- nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := <-results; err != nil {
		t.Fatalf("WriteBeforePoll: %v", err)
	}
	<-rec.pauseCh // 30,000 bytes queued in one turn pass the 1 KiB mark
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(peer, got); err != nil {
		t.Fatalf("reading: %v", err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatal("the bytes written before the poll arrived changed or out of order")
	}
	if err := WriteBeforePoll(tr, []byte("from a goroutine")); err != nil {
		t.Fatalf("WriteBeforePoll off the loop: %v", err)
	}
	got = make([]byte, len("from a goroutine"))
	if _, err := io.ReadFull(peer, got); err != nil || string(got) != "from a goroutine" {
		t.Fatalf("off-loop write: got %q, %v", got, err)
	}
	if err := l.Post(func() {
		tr.Close()
		results <- WriteBeforePoll(tr, []byte("late"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := <-results; !errors.Is(err, ErrClosed) {
		t.Errorf("WriteBeforePoll after Close = %v, want ErrClosed", err)
	}
}
