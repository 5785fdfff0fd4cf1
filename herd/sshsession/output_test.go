package sshsession

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

// sizeRecorder is a reader that notes the size of every buffer it is
// handed and returns at most chunk bytes a call.
type sizeRecorder struct {
	r     io.Reader
	chunk int
	sizes []int
}

func (s *sizeRecorder) Read(p []byte) (int, error) {
	s.sizes = append(s.sizes, len(p))
	return s.r.Read(p[:min(len(p), s.chunk)])
}

func TestLeanWriterCopies(t *testing.T) {
	data := make([]byte, 200<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for _, chunk := range []int{1, 100, idleBufSize, idleBufSize + 1, busyBufSize, 1 << 20} {
		var out bytes.Buffer
		src := &sizeRecorder{r: bytes.NewReader(data), chunk: chunk}
		n, err := io.Copy(leanWriter{&out}, src)
		if err != nil || n != int64(len(data)) || !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("chunk %d: copied %d, %v; output equal: %v", chunk, n, err, bytes.Equal(out.Bytes(), data))
		}
		// io.Copy must have called ReadFrom: its own buffer is 32 KiB.
		if src.sizes[0] != idleBufSize {
			t.Errorf("chunk %d: first read into %d bytes, want the idle buffer's %d", chunk, src.sizes[0], idleBufSize)
		}
		// A reader that fills the small buffer gets the large one next;
		// one that does not, never.
		grew := false
		for _, s := range src.sizes {
			grew = grew || s == busyBufSize
		}
		if want := chunk >= idleBufSize; grew != want {
			t.Errorf("chunk %d: large buffer used %v, want %v (read sizes %v...)", chunk, grew, want, src.sizes[:min(len(src.sizes), 5)])
		}
	}
}

// shortWriter accepts at most limit bytes in all, then writes short.
type shortWriter struct{ limit int }

func (w *shortWriter) Write(p []byte) (int, error) {
	n := min(len(p), w.limit)
	w.limit -= n
	return n, nil
}

func TestLeanWriterErrors(t *testing.T) {
	boom := errors.New("boom")
	var out bytes.Buffer
	n, err := io.Copy(leanWriter{&out}, iotest.TimeoutReader(bytes.NewReader([]byte("ab"))))
	if n != 2 || !errors.Is(err, iotest.ErrTimeout) || out.String() != "ab" {
		t.Errorf("read error: copied %d (%q), %v; want 2 and %v", n, out.String(), err, iotest.ErrTimeout)
	}
	n, err = io.Copy(leanWriter{&shortWriter{limit: 3}}, bytes.NewReader([]byte("abcdef")))
	if n != 3 || !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("short write: copied %d, %v; want 3 and %v", n, err, io.ErrShortWrite)
	}
	n, err = io.Copy(leanWriter{failWriter{boom}}, bytes.NewReader([]byte("abc")))
	if n != 0 || !errors.Is(err, boom) {
		t.Errorf("write error: copied %d, %v; want 0 and %v", n, err, boom)
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }
