package sshsession

import (
	"errors"
	"io"
	"sync"
)

// x/crypto/ssh's Session copies stdout and stderr to their writers with
// io.Copy, each on a goroutine of its own, while the goroutine that runs
// the session only waits for it to end. runCommand reads stdout on that
// goroutine instead, which saves one goroutine (its stack, 4 KiB once
// a read has waited in it) for each host in flight.
//
// io.Copy also allocates 32 KiB for the copy unless the writer is an
// io.ReaderFrom: a running command would hold 64 KiB that way, most of it
// idle while the command prints nothing. leanWriter waits with a small
// buffer and borrows a large one only while output streams.

// runCommand runs cmd in sess, copying its stdout and stderr to stdout
// and stderr (nil: discarded), and returns how it ended once the command
// has exited and both streams have ended. A writer's error stops the copy
// to it but not the reading, so that the command is never held up by a
// full channel window; it is returned if the command exited 0.
//
// With keepStdin, the command's stdin stays open until the caller closes
// it; otherwise it is empty (closed at once).
//
// With lines, the pid lines at the head of stdout go there, not to stdout.
func runCommand(sess *execSession, cmd string, keepStdin bool, lines *pidLines, stdout, stderr io.Writer) (exitStatus, error) {
	if err := sess.start(cmd); err != nil {
		return exitStatus{}, err
	}
	if !keepStdin {
		// An error here is a channel the server has closed already (a
		// command done at once); a lost connection shows in wait.
		sess.closeStdin()
	}
	var outPipe io.Reader = sess.ch
	if lines != nil {
		outPipe = newPidReader(outPipe, lines)
	}
	errCopied := make(chan error, 1)
	go func() { errCopied <- drain(stderr, sess.ch.Stderr()) }()
	copyErr := drain(stdout, outPipe)
	if err := <-errCopied; copyErr == nil {
		copyErr = err
	}
	exit, err := sess.wait()
	if err != nil {
		return exit, err
	}
	if exit.ok() {
		return exit, copyErr
	}
	return exit, nil
}

// drain copies r to w until r ends, and reads on to the end if w fails,
// returning w's error.
func drain(w io.Writer, r io.Reader) error {
	if w == nil {
		w = io.Discard
	}
	_, err := leanWriter{w}.ReadFrom(r)
	if err != nil {
		leanWriter{io.Discard}.ReadFrom(r)
	}
	return err
}

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
