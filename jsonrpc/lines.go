package jsonrpc

import (
	"bufio"
	"bytes"
	"io"
)

// fragmentReader yields a stream's bytes a line at a time: each call
// returns up to and including the next newline, or, with
// bufio.ErrBufferFull, a piece of a line that goes on. A fragment is valid
// until the next call.
type fragmentReader interface {
	readFragment() ([]byte, error)
}

// lender is a reader that lends the bytes it has buffered instead of
// copying them out, as flow.Conn's Next does: the slice stays valid until
// the next read call.
type lender interface {
	Next() ([]byte, error)
}

// newLineReader reads lines from r: through its own lent buffers when r
// lends them, so that a connection parked between messages holds no
// buffer of ours; through a bufio.Reader otherwise.
func newLineReader(r io.Reader) fragmentReader {
	if l, ok := r.(lender); ok {
		return &lentLines{src: l}
	}
	return bufioLines{bufio.NewReaderSize(r, 4096)}
}

type bufioLines struct{ br *bufio.Reader }

func (b bufioLines) readFragment() ([]byte, error) { return b.br.ReadSlice('\n') }

// lentLines splits what a lender lends into lines. rest views the lent
// bytes after the last fragment returned; it is read before the lender
// is called again, which is what keeps the view valid.
type lentLines struct {
	src  lender
	rest []byte
}

func (r *lentLines) readFragment() ([]byte, error) {
	if len(r.rest) == 0 {
		b, err := r.src.Next()
		if err != nil {
			return nil, err
		}
		r.rest = b
	}
	if i := bytes.IndexByte(r.rest, '\n'); i >= 0 {
		frag := r.rest[:i+1]
		r.rest = r.rest[i+1:]
		return frag, nil
	}
	frag := r.rest
	r.rest = nil
	return frag, bufio.ErrBufferFull
}

// readLine reads one message up to its newline, of at most limit bytes,
// into memory of its own. A batch of more than maxBatch entries (0: any
// number) is read to its end without being kept, and reported as
// errBatchTooLarge.
func readLine(lines fragmentReader, limit, maxBatch int) ([]byte, error) {
	var msg []byte
	var scan batchScan
	n, refused := 0, false
	for {
		frag, err := lines.readFragment()
		n += len(frag)
		if n > limit {
			return nil, ErrMessageTooLarge
		}
		if maxBatch > 0 && !refused && scan.feed(frag, maxBatch) {
			refused, msg = true, nil
		}
		if !refused {
			msg = append(msg, frag...)
		}
		if err != bufio.ErrBufferFull {
			if refused && (err == nil || err == io.EOF) {
				return nil, errBatchTooLarge
			}
			return msg, err
		}
	}
}
