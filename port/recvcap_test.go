//go:build linux || windows

package port_test

import (
	"bytes"
	"syscall"
	"testing"

	"github.com/cport/cport/port"
)

// A capped multishot receive never puts more than its cap in one
// completion, however large the pool's buffers and however much the
// socket holds, and every byte still arrives, in order.
func TestRecvMultishotCapped(t *testing.T) {
	const size, each = 4096, 300
	p := openPort(t, port.Config{Buffers: 64, BufferSize: size})
	fd, peer := streamPair(t, p)
	src := pattern(16 << 10)
	if err := <-peer.writeAsync(src); err != nil {
		t.Fatal(err)
	}
	k := p.register()
	p.submit(k, port.RecvMultishotCapped(fd, 0, each))
	var got []byte
	for len(got) < len(src) {
		c := p.waitKey(k)
		if c.Res == -int32(syscall.ENOBUFS) {
			// The ring's working set ran dry before the buffers came
			// back (the port then grows it): receive again.
			p.submit(k, port.RecvMultishotCapped(fd, 0, each))
			continue
		}
		if id, ok := c.BufferID(); ok && c.Res > 0 {
			if c.Res > each {
				t.Fatalf("a completion carried %d bytes, want at most %d", c.Res, each)
			}
			got = append(got, p.Buffer(c)...)
			p.RecycleBuffer(id)
		} else if c.Res <= 0 {
			t.Fatalf("completion %+v (%v) after %d bytes, want data", c, c.Err(), len(got))
		}
		if !c.More() && len(got) < len(src) {
			p.submit(k, port.RecvMultishotCapped(fd, 0, each))
		}
	}
	if !bytes.Equal(got, src) {
		t.Fatalf("received %d bytes that differ from the %d sent", len(got), len(src))
	}
}
