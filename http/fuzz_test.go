package http

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// FuzzParseRequest feeds arbitrary bytes to the head parser, split at an
// arbitrary point as a connection might deliver them, and then to the
// chunked decoder. It checks that nothing panics and that the parser's
// view of a head does not depend on how the bytes arrived.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /p?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: 1\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
		"GET / HTTP/1.1\nHost: x\n\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	} {
		f.Add([]byte(s), uint16(5))
	}
	lim := Limits{}.withDefaults()
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		cut := int(split) % (len(data) + 1)
		// Whole at once.
		end1, _, err1 := findHeadEnd(data, 0)
		// In two parts, resuming the scan.
		end2, next, err2 := findHeadEnd(data[:cut], 0)
		if err2 == nil && end2 == 0 {
			end2, _, err2 = findHeadEnd(data, next)
		}
		if (err1 == nil) != (err2 == nil) || err1 == nil && end1 != end2 {
			t.Fatalf("split at %d changes the head: %d,%v vs %d,%v", cut, end1, err1, end2, err2)
		}
		if err1 != nil || end1 == 0 {
			return
		}
		var r Request
		if err := parseHead(data[:end1], &r, &lim); err != nil {
			if err.code < 400 || err.code > 505 {
				t.Fatalf("refusal with status %d", err.code)
			}
			return
		}
		if r.chunked && r.ContentLength != -1 || !r.chunked && r.ContentLength < 0 {
			t.Fatalf("framing: chunked %v, Content-Length %d", r.chunked, r.ContentLength)
		}
		if !r.chunked {
			return
		}
		// The body, decoded in small steps from the split point.
		var d chunkedDecoder
		body := data[end1:]
		p := make([]byte, 7)
		off, end := 0, 0
		for off < len(body) && d.state != chunkDone {
			// Each step offers a few more bytes, as DataReceived would.
			end = min(len(body), max(end, off)+1+int(split)%13)
			c, n, err := d.decode(body[off:end], p, lim.MaxBodyBytes)
			if n > len(p) || c > end-off {
				t.Fatalf("decode overran: consumed %d of %d, filled %d of %d", c, end-off, n, len(p))
			}
			if err != nil {
				return
			}
			if c == 0 && n == 0 && end == len(body) {
				return // needs more input than there is
			}
			off += c
		}
	})
}

// FuzzParseResponse checks that the client's response-head parser never
// panics and never accepts ambiguous framing.
func FuzzParseResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 204 No Content\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		end, _, err := findHeadEnd(data, 0)
		if err != nil || end == 0 {
			return
		}
		var h responseHead
		if parseResponseHead(data[:end], &h) == nil && h.chunked && h.clen >= 0 {
			t.Fatalf("accepted both chunked and Content-Length %d", h.clen)
		}
	})
}

// FuzzParseRequestSplit decodes a chunked body twice, once with all of it
// buffered and once arriving in pieces whose sizes come from seed, and
// checks that both give the same bytes and the same verdict: what a
// server accepts or refuses must not depend on how the bytes arrive.
func FuzzParseRequestSplit(f *testing.F) {
	for _, s := range []string{
		"3;e=1\r\nabc\r\n0\r\nT: 1\r\n\r\n",
		"5\r\nhello\r\n0\r\n\r\n",
		"5;x=" + strings.Repeat("a", maxChunkLine+200) + "\r\nhello\r\n0\r\n\r\n",
		"zz\r\nabc\r\n0\r\n\r\n",
		"3\r\nabcX\r\n0\r\n\r\n",
	} {
		f.Add([]byte(s), uint64(1))
	}
	f.Fuzz(func(t *testing.T, body []byte, seed uint64) {
		whole, werr := decodeArriving(body, func(int) int { return len(body) })
		r := rand.New(rand.NewPCG(seed, 0))
		pieces, perr := decodeArriving(body, func(have int) int { return min(len(body), have+1+r.IntN(64)) })
		if !bytes.Equal(whole, pieces) || !sameVerdict(werr, perr) {
			t.Fatalf("whole: %q, %v; in pieces: %q, %v", whole, werr, pieces, perr)
		}
	})
}

// decodeArriving decodes body as a server does while next(have) tells how
// many bytes have arrived once the decoder wants more. It returns the
// data and the error, errIncomplete if the body never ends.
func decodeArriving(body []byte, next func(have int) int) ([]byte, error) {
	var d chunkedDecoder
	var out []byte
	p := make([]byte, 5)
	off, have := 0, next(0)
	for {
		c, n, err := d.decode(body[off:have], p, 1<<20)
		out = append(out, p[:n]...)
		off += c
		if err != nil || d.state == chunkDone {
			return out, err
		}
		if c == 0 && n == 0 {
			if have == len(body) {
				return out, errIncomplete
			}
			have = next(have)
		}
	}
}

var errIncomplete = errors.New("incomplete body")

func sameVerdict(a, b error) bool {
	return a == b || errors.Is(a, b) || errors.Is(b, a)
}
