package http

import "bytes"

// Chunked decoder states.
const (
	chunkSize     = iota // expecting a chunk-size line
	chunkData            // inside a chunk's data
	chunkDataCRLF        // expecting the CRLF after a chunk's data
	chunkTrailer         // expecting trailer fields or the final CRLF
	chunkDone
)

// maxChunkLine bounds a chunk-size line with its extensions, and
// maxTrailer the trailer section, so framing alone cannot grow the buffer.
const (
	maxChunkLine = 4 << 10
	maxTrailer   = 16 << 10
)

// chunkedDecoder decodes a chunked body (RFC 9112 7.1) incrementally: it
// works on whatever bytes are buffered and keeps its place between calls.
type chunkedDecoder struct {
	state   int
	left    int64 // bytes left in the current chunk
	total   int64 // data bytes so far, for the body limit
	trailer int   // trailer bytes so far
}

// decode consumes framing and data from in, copying data into p. It
// returns how much of in it consumed and how much of p it filled; it
// stops when p is full, when in runs out (the caller waits for more) or
// when the body is done (state chunkDone).
func (d *chunkedDecoder) decode(in, p []byte, max int64) (consumed, n int, err error) {
	for {
		rest := in[consumed:]
		switch d.state {
		case chunkSize:
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				if len(rest) > maxChunkLine {
					return consumed, n, errChunkLineLength
				}
				return consumed, n, nil
			}
			// The same bound whether the line came in pieces or whole.
			if i+1 > maxChunkLine {
				return consumed, n, errChunkLineLength
			}
			size, err := parseChunkSize(rest[:i+1])
			if err != nil {
				return consumed, n, err
			}
			consumed += i + 1
			if size == 0 {
				d.state = chunkTrailer
				continue
			}
			if d.total+size > max {
				return consumed, n, errBodyTooLarge
			}
			d.total += size
			d.left, d.state = size, chunkData
		case chunkData:
			k := int64(min(len(rest), len(p)-n))
			if k == 0 {
				return consumed, n, nil
			}
			k = min(k, d.left)
			copy(p[n:], rest[:k])
			n += int(k)
			consumed += int(k)
			d.left -= k
			if d.left == 0 {
				d.state = chunkDataCRLF
			}
		case chunkDataCRLF:
			if len(rest) < 2 {
				if len(rest) == 1 && rest[0] != '\r' {
					return consumed, n, errChunkData
				}
				return consumed, n, nil
			}
			if rest[0] != '\r' || rest[1] != '\n' {
				return consumed, n, errChunkData
			}
			consumed += 2
			d.state = chunkSize
		case chunkTrailer:
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				if d.trailer+len(rest) > maxTrailer {
					return consumed, n, errHeadTooLarge
				}
				return consumed, n, nil
			}
			line := rest[:i+1]
			if err := checkTrailerLine(line); err != nil {
				return consumed, n, err
			}
			consumed += i + 1
			d.trailer += i + 1
			if d.trailer > maxTrailer {
				return consumed, n, errHeadTooLarge
			}
			if i == 1 {
				d.state = chunkDone
			}
		default:
			return consumed, n, nil
		}
	}
}

// parseChunkSize parses chunk-size [chunk-ext] CRLF. Sizes are at most 15
// hex digits, so they cannot overflow; extensions are skipped but must
// hold no control bytes.
func parseChunkSize(line []byte) (int64, error) {
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return 0, errChunkSize
	}
	line = line[:len(line)-2]
	var size int64
	i := 0
	for ; i < len(line); i++ {
		v := unhex(line[i])
		if v < 0 {
			break
		}
		if i == 15 {
			return 0, errChunkSize
		}
		size = size<<4 | int64(v)
	}
	if i == 0 {
		return 0, errChunkSize
	}
	ext := line[i:]
	for len(ext) > 0 && (ext[0] == ' ' || ext[0] == '\t') {
		ext = ext[1:]
	}
	if len(ext) > 0 && (ext[0] != ';' || !validValue(ext)) {
		return 0, errChunkSize
	}
	return size, nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// checkTrailerLine checks one trailer line (CRLF included): the empty
// line, or name: value with the header rules.
func checkTrailerLine(line []byte) error {
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return errTrailer
	}
	line = line[:len(line)-2]
	if len(line) == 0 {
		return nil
	}
	if line[0] == ' ' || line[0] == '\t' {
		return errObsFold
	}
	colon := bytes.IndexByte(line, ':')
	if colon < 0 || !isToken(line[:colon]) || !validValue(line[colon+1:]) {
		return errTrailer
	}
	return nil
}

// appendChunkHeader appends the size line of a chunk of n bytes.
func appendChunkHeader(b []byte, n int) []byte {
	const hexDigits = "0123456789abcdef"
	var tmp [16]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = hexDigits[n&15]
		n >>= 4
		if n == 0 {
			break
		}
	}
	b = append(b, tmp[i:]...)
	return append(b, '\r', '\n')
}
