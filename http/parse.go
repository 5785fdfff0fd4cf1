package http

import "bytes"

// findHeadEnd looks for the blank line that ends a request head in b,
// starting at scan (where the previous call stopped, so a head that
// trickles in is scanned once). It returns the head's length including
// the blank line, or 0 and the new scan offset while the head is
// incomplete. Every LF must follow a CR (RFC 9112 2.2: no bare LF); a
// bare LF is refused at once rather than waited on.
func findHeadEnd(b []byte, scan int) (end, next int, err *statusError) {
	for {
		i := bytes.IndexByte(b[scan:], '\n')
		if i < 0 {
			return 0, len(b), nil
		}
		pos := scan + i
		if pos == 0 || b[pos-1] != '\r' {
			return 0, 0, errBareLF
		}
		if pos >= 3 && b[pos-3] == '\r' && b[pos-2] == '\n' {
			return pos + 1, pos + 1, nil
		}
		scan = pos + 1
	}
}

// skipEmptyLines drops the CRLFs a client may send between requests
// (RFC 9112 2.2 says a server SHOULD ignore at least one).
func skipEmptyLines(b []byte) int {
	n := 0
	for len(b)-n >= 2 && b[n] == '\r' && b[n+1] == '\n' {
		n += 2
	}
	return n
}

// parseHead parses a complete request head (as findHeadEnd delimited it,
// blank line included) into r. The slices it stores alias head.
func parseHead(head []byte, r *Request, lim *Limits) *statusError {
	r.reset()
	line, rest := cutLine(head)
	if err := parseRequestLine(line, r); err != nil {
		return err
	}
	hosts := 0
	clSeen := false
	for {
		line, rest = cutLine(rest)
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return errObsFold
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return errFieldName
		}
		name := line[:colon]
		if !isToken(name) { // also refuses whitespace before the colon
			return errFieldName
		}
		value := trimOWS(line[colon+1:])
		if !validValue(value) {
			if bytes.IndexByte(value, '\r') >= 0 {
				return errBareCR
			}
			return errFieldValue
		}
		if len(r.fields) == lim.MaxHeaders {
			return errTooManyHeaders
		}
		r.fields = append(r.fields, Field{name, value})
		switch len(name) {
		case 4:
			if equalFold(name, "host") {
				hosts++
				r.Host = value
			}
		case 6:
			if equalFold(name, "expect") {
				if !equalFold(value, "100-continue") {
					return errExpectation
				}
				// An HTTP/1.0 client knows no 1xx (RFC 9110 10.1.1).
				r.expectContinue = r.ProtoMinor == 1
			}
		case 10:
			if equalFold(name, "connection") {
				forEachElement(value, func(e []byte) bool {
					if equalFold(e, "close") {
						r.close = true
					} else if equalFold(e, "keep-alive") {
						r.keepAlive = true
					}
					return true
				})
			}
		case 14:
			if equalFold(name, "content-length") {
				if err := parseContentLength(value, r, clSeen); err != nil {
					return err
				}
				clSeen = true
			}
		case 17:
			if equalFold(name, "transfer-encoding") {
				if err := parseTransferEncoding(value, r); err != nil {
					return err
				}
			}
		}
	}
	if r.teSeen {
		if clSeen {
			return errCLAndTE
		}
		if r.ProtoMinor == 0 {
			return errTE10
		}
		if !r.chunked {
			return errTransferEnc
		}
		r.ContentLength = -1
	}
	if r.ProtoMinor == 1 && hosts != 1 || hosts > 1 {
		return errHost
	}
	if r.ContentLength > lim.MaxBodyBytes {
		return errBodyTooLarge
	}
	r.remaining = r.ContentLength
	return nil
}

// cutLine splits off one CRLF-terminated line; findHeadEnd has checked
// that every LF in the head follows a CR.
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	return b[:i-1], b[i+1:]
}

// parseRequestLine parses method SP request-target SP HTTP-version.
func parseRequestLine(line []byte, r *Request) *statusError {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return errRequestLine
	}
	r.Method = line[:sp]
	if !isToken(r.Method) {
		return errMethod
	}
	line = line[sp+1:]
	sp = bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return errRequestLine
	}
	r.Target = line[:sp]
	for _, c := range r.Target {
		if c <= ' ' || c >= 0x7f {
			return errTarget
		}
	}
	v := line[sp+1:]
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' || !isDigit(v[5]) || !isDigit(v[7]) {
		if bytes.IndexByte(v, '\r') >= 0 {
			return errBareCR
		}
		return errVersion
	}
	if v[5] != '1' {
		return errVersionNotSupp
	}
	r.ProtoMajor, r.ProtoMinor = 1, 0
	if v[7] != '0' {
		r.ProtoMinor = 1 // HTTP/1.x for x > 1 is served as 1.1 (RFC 9110 2.5)
	}
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parseContentLength accepts a list of identical decimal values (RFC 9112
// 6.3 lets a recipient take "42, 42"), repeated only with the same value;
// anything else could be read differently by another hop, so it is 400.
func parseContentLength(v []byte, r *Request, seen bool) *statusError {
	var err *statusError
	n := 0
	forEachElement(v, func(e []byte) bool {
		var x int64
		for _, c := range e {
			if !isDigit(c) || x > (1<<62)/10 {
				err = errContentLength
				return false
			}
			x = x*10 + int64(c-'0')
		}
		if (seen || n > 0) && x != r.ContentLength {
			err = errCLConflict
			return false
		}
		r.ContentLength = x
		n++
		return true
	})
	if err == nil && n == 0 {
		err = errContentLength
	}
	return err
}

// parseTransferEncoding accepts chunked as the one and final coding.
// Another coding after chunked means the body's end cannot be found
// (400); one before it is a coding this server does not decode (501).
func parseTransferEncoding(v []byte, r *Request) *statusError {
	var err *statusError
	forEachElement(v, func(e []byte) bool {
		if r.chunked {
			err = errTransferEnc // something after chunked, or chunked twice
			return false
		}
		r.teSeen = true
		if equalFold(e, "chunked") {
			r.chunked = true
			return true
		}
		err = errUnsupportedTE
		return true // keep looking: a coding after it may make this a 400
	})
	if err == errUnsupportedTE && !r.chunked {
		err = errTransferEnc
	}
	if err == nil && !r.teSeen {
		err = errTransferEnc
	}
	return err
}
