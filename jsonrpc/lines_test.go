package jsonrpc

import (
	"bufio"
	"io"
	"strings"
	"testing"
)

// chunkLender lends a stream in the chunks given, each from a fresh
// array that it overwrites on the next call, as a connection reusing its
// buffer would: a reader that kept a view past the next call reads junk.
type chunkLender struct {
	chunks []string
	buf    []byte
}

func (l *chunkLender) Next() ([]byte, error) {
	for i := range l.buf {
		l.buf[i] = '#'
	}
	if len(l.chunks) == 0 {
		return nil, io.EOF
	}
	l.buf = append(l.buf[:0], l.chunks[0]...)
	l.chunks = l.chunks[1:]
	return l.buf, nil
}

// readAll reads messages until the stream ends and returns them with the
// error each came with.
func readAll(lines fragmentReader, limit, maxBatch int) []string {
	var got []string
	for {
		msg, err := readLine(lines, limit, maxBatch)
		if err != nil && err != io.EOF {
			got = append(got, "error: "+err.Error())
			if err != errBatchTooLarge {
				return got
			}
			continue
		}
		if len(msg) > 0 {
			got = append(got, string(msg))
		}
		if err == io.EOF {
			return got
		}
	}
}

// Lines read through a lender come out as through a bufio.Reader however
// the stream is split in three, with the batch bound, the size bound and
// a last line without its newline.
func TestLentLines(t *testing.T) {
	for _, stream := range []string{
		"{\"a\":1}\n{\"b\":2}\n\n[1,2,3,4,5]\n{\"c\":3}",
		"[1,2]\n" + strings.Repeat("x", 40) + "\n{}\n",
	} {
		want := readAll(bufioLines{bufio.NewReaderSize(strings.NewReader(stream), 16)}, 32, 3)
		for i := 0; i <= len(stream); i++ {
			for j := i; j <= len(stream); j++ {
				l := &chunkLender{chunks: []string{stream[:i], stream[i:j], stream[j:]}}
				got := readAll(&lentLines{src: l}, 32, 3)
				if strings.Join(got, "|") != strings.Join(want, "|") {
					t.Fatalf("%q split at %d and %d:\n got %q\nwant %q", stream, i, j, got, want)
				}
			}
		}
	}
}
