package sshsession

import (
	"errors"
	"io"
	"sync"
)

// x/crypto/ssh copies a session's stdout and stderr to their writers with
// io.Copy, each on a goroutine of its own, and io.Copy allocates 32 KiB
// for the copy unless the writer is an io.ReaderFrom. A running command
// would hold 64 KiB that way, most of it idle while the command prints
// nothing: more than all the rest of a host's session. leanWriter waits
// with a small buffer and borrows a large one only while output streams.

const (
	// idleBufSize is what a stream holds while it waits for output: a
	// line or two, which is all most commands print at a time.
	idleBufSize = 512
	// busyBufSize is borrowed once a read fills the small buffer, and
	// given back after a read that does not fill it. 32 KiB is the size
	// of an SSH channel's packets, and io.Copy's.
	busyBufSize = 32 << 10
)

var busyBufs = sync.Pool{New: func() any { b := make([]byte, busyBufSize); return &b }}

// leanWriter is w as an io.ReaderFrom, so that io.Copy(w, r) calls its
// ReadFrom instead of allocating a buffer.
type leanWriter struct{ w io.Writer }

func (lw leanWriter) Write(p []byte) (int, error) { return lw.w.Write(p) }

// ReadFrom copies r to w until r ends, as io.Copy does.
func (lw leanWriter) ReadFrom(r io.Reader) (int64, error) {
	small := make([]byte, idleBufSize)
	buf := small
	var busy *[]byte
	defer func() {
		if busy != nil {
			busyBufs.Put(busy)
		}
	}()
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			m, werr := lw.w.Write(buf[:n])
			total += int64(m)
			if werr == nil && m != n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return total, werr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return total, nil
			}
			return total, err
		}
		switch {
		case n == len(buf) && busy == nil: // more is likely on its way
			busy = busyBufs.Get().(*[]byte)
			buf = *busy
		case n < len(buf) && busy != nil: // drained: wait small again
			busyBufs.Put(busy)
			busy, buf = nil, small
		}
	}
}
