//go:build linux || windows

package port_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/cport/cport/port"
)

// Read and Write on pipes and files: pipe(2) and regular files on Linux,
// overlapped named pipes and files on Windows (pipe and tempFile come
// from the platform's fixtures).

func TestPipeWriteRead(t *testing.T) {
	p := openPort(t, port.Config{})
	r, w := pipe(t)
	wantRes(t, "write", p.do(port.Write(w, []byte("hello, pipe"), -1)), 11)
	buf := make([]byte, 64)
	c := p.do(port.Read(r, buf, -1))
	if c.Res != 11 || string(buf[:11]) != "hello, pipe" {
		t.Fatalf("read: %d %q, want 11 %q", c.Res, buf[:max(c.Res, 0)], "hello, pipe")
	}
}

func TestPipeReadEOF(t *testing.T) {
	p := openPort(t, port.Config{})
	r, w := pipeOwnWriter(t) // closed below by the Close op
	k := p.register()
	p.submit(k, port.Read(r, make([]byte, 16), -1))
	wantRes(t, "close of the write end", p.do(port.Close(w)), 0)
	wantRes(t, "read at end of file", p.waitKey(k), 0)
}

func TestCancelPipeRead(t *testing.T) {
	p := openPort(t, port.Config{})
	r, _ := pipe(t)
	p.cancelPending("read", "on an empty pipe", port.Read(r, make([]byte, 16), -1))
}

func TestPipeLargeTransfer(t *testing.T) {
	p := openPort(t, port.Config{})
	r, w := pipe(t)
	src := pattern(4 << 20)
	dst := make([]byte, 0, len(src))
	chunk := make([]byte, 64<<10)
	kr, kw := p.register(), p.register()
	p.submit(kr, port.Read(r, chunk, -1))
	p.submit(kw, port.Write(w, src, -1))
	written := 0
	out := make([]port.Completion, 8)
	deadline := time.Now().Add(hangLimit)
	for len(dst) < len(src) {
		if time.Now().After(deadline) {
			t.Fatalf("moved %d of %d bytes", len(dst), len(src))
		}
		n, err := p.Wait(out, 100*time.Millisecond)
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
		for _, c := range out[:n] {
			if c.Res <= 0 {
				t.Fatalf("completion %+v (%v), want a positive count", c, c.Err())
			}
			switch c.Key {
			case kw:
				written += int(c.Res)
				if written < len(src) {
					p.submit(kw, port.Write(w, src[written:], -1))
				}
			case kr:
				dst = append(dst, chunk[:c.Res]...)
				if len(dst) < len(src) {
					p.submit(kr, port.Read(r, chunk, -1))
				}
			}
		}
	}
	p.drain()
	if written != len(src) || !bytes.Equal(dst, src) {
		t.Fatalf("wrote %d, read %d bytes, equal %v; want %d both and equal", written, len(dst), bytes.Equal(dst, src), len(src))
	}
}

func TestFileReadWriteAtOffset(t *testing.T) {
	p := openPort(t, port.Config{})
	fd := tempFile(t)
	wantRes(t, "write at 0", p.do(port.Write(fd, []byte("0123456789"), 0)), 10)
	wantRes(t, "write at 4", p.do(port.Write(fd, []byte("abc"), 4)), 3)
	buf := make([]byte, 8)
	c := p.do(port.Read(fd, buf, 2))
	if c.Res != 8 || string(buf) != "23abc789" {
		t.Fatalf("read at 2: %d %q, want 8 %q", c.Res, buf[:max(c.Res, 0)], "23abc789")
	}
	wantRes(t, "read at the end", p.do(port.Read(fd, buf, 10)), 0)
}
