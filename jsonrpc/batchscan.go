package jsonrpc

// batchScan follows a stream message as it arrives, far enough to count
// the entries of a batch: a batch of a million tiny entries is refused
// after its first few kilobytes, not after the whole message has been
// buffered (up to MaxMessage per connection, which a crowd of such peers
// multiplies).
type batchScan struct {
	started  bool // the message's first non-space byte has been seen
	batch    bool // and it was '['
	inString bool
	escaped  bool
	depth    int
	commas   int // at depth 1: a batch has one entry more
}

// feed scans p and reports whether the message is known to be a batch of
// more than max entries.
func (b *batchScan) feed(p []byte, max int) bool {
	if b.started && !b.batch {
		return false
	}
	for _, c := range p {
		switch {
		case b.inString:
			switch {
			case b.escaped:
				b.escaped = false
			case c == '\\':
				b.escaped = true
			case c == '"':
				b.inString = false
			}
		case !b.started:
			if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
				continue
			}
			b.started, b.batch = true, c == '['
			if !b.batch {
				return false
			}
			b.depth = 1
		case c == '"':
			b.inString = true
		case c == '[' || c == '{':
			b.depth++
		case c == ']' || c == '}':
			b.depth--
		case c == ',' && b.depth == 1:
			b.commas++
			if b.commas >= max {
				return true
			}
		}
	}
	return false
}
