package http

import (
	"bytes"
	"errors"
	nethttp "net/http"
	"strconv"
	"strings"
)

// errResponse is a response the client cannot use.
var errResponse = errors.New("http: malformed response")

// responseHead is a parsed response head, as the client frames the body.
type responseHead struct {
	code       int
	status     string
	protoMinor int
	header     nethttp.Header
	clen       int64 // -1 unless Content-Length was given
	chunked    bool
	close      bool
	keepAlive  bool
}

// parseResponseHead parses a complete response head (findHeadEnd has
// delimited it) with the same field rules as requests: no obs-fold, no
// bare CR, and Content-Length and Transfer-Encoding that agree.
func parseResponseHead(head []byte, h *responseHead) error {
	line, rest := cutLine(head)
	// HTTP/1.x SP 3DIGIT SP reason
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || !isDigit(line[7]) || line[8] != ' ' ||
		!isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) || len(line) > 12 && line[12] != ' ' {
		return errResponse
	}
	h.protoMinor = int(line[7] - '0')
	h.code = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	if h.code < 100 {
		return errResponse
	}
	h.status = string(line[9:])
	if !validValue(line) {
		return errResponse
	}
	h.header = make(nethttp.Header)
	h.clen = -1
	for {
		line, rest = cutLine(rest)
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return errResponse
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return errResponse
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		if !validValue(value) {
			return errResponse
		}
		key := nethttp.CanonicalHeaderKey(string(name))
		h.header[key] = append(h.header[key], string(value))
		switch key {
		case "Content-Length":
			var r Request
			if h.clen >= 0 {
				r.ContentLength = h.clen
			}
			if parseContentLength(value, &r, h.clen >= 0) != nil {
				return errResponse
			}
			h.clen = r.ContentLength
		case "Transfer-Encoding":
			var r Request
			r.chunked = h.chunked
			if parseTransferEncoding(value, &r) != nil {
				return errResponse
			}
			h.chunked = r.chunked
		case "Connection":
			for _, e := range strings.Split(string(value), ",") {
				switch strings.ToLower(strings.TrimSpace(e)) {
				case "close":
					h.close = true
				case "keep-alive":
					h.keepAlive = true
				}
			}
		}
	}
	if h.chunked && h.clen >= 0 {
		return errResponse
	}
	return nil
}

func (h *responseHead) String() string {
	return "HTTP/1." + strconv.Itoa(h.protoMinor) + " " + h.status
}
