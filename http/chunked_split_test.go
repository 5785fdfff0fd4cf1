package http

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// A chunk-size line over the limit is refused however its bytes are split
// across reads, and one within it is accepted however they are split:
// the outcome never depends on how the bytes arrive.
func TestChunkLineLimitAtEverySplit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ext   int
		error bool
	}{
		{"over the limit", maxChunkLine + 100, true},
		{"within it", maxChunkLine - 100, false},
	} {
		body := []byte("5;x=" + strings.Repeat("a", tc.ext) + "\r\nhello\r\n0\r\n\r\n")
		for split := 1; split <= len(body); split++ {
			got, err := decodeArriving(body, func(have int) int {
				if have == 0 {
					return split
				}
				return len(body)
			})
			switch {
			case tc.error && !errors.Is(err, errChunkLineLength):
				t.Fatalf("%s, split at %d: %q, %v; want errChunkLineLength", tc.name, split, got, err)
			case !tc.error && (err != nil || !bytes.Equal(got, []byte("hello"))):
				t.Fatalf("%s, split at %d: %q, %v; want hello", tc.name, split, got, err)
			}
		}
	}
}
