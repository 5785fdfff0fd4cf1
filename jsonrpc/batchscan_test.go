package jsonrpc

import "testing"

// batchScan counts a batch's entries however the message is split, and
// is not fooled by commas inside strings or nested values.
func TestBatchScan(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		over bool // more than 3 entries
	}{
		{`[1,2,3]`, false},
		{`[1,2,3,4]`, true},
		{"  \t[1,1,1,1]\n", true},
		{`["a,b,c,d,e"]`, false},
		{`["\",\",\",\"", 1]`, false},
		{`[[1,2,3,4,5],{"a":1,"b":2,"c":3,"d":4},3]`, false},
		{`[[1],{"a":"]"},"[",4]`, true},
		{`{"params":[1,2,3,4,5]}`, false},
		{`"[1,2,3,4]"`, false},
		{`[]`, false},
	} {
		for split := 0; split <= len(tc.msg); split++ {
			var b batchScan
			got := b.feed([]byte(tc.msg[:split]), 3) || b.feed([]byte(tc.msg[split:]), 3)
			if got != tc.over {
				t.Errorf("%s split at %d: more than 3 entries = %v, want %v", tc.msg, split, got, tc.over)
			}
		}
		var b batchScan
		got := false
		for i := range len(tc.msg) {
			got = got || b.feed([]byte{tc.msg[i]}, 3)
		}
		if got != tc.over {
			t.Errorf("%s byte by byte: more than 3 entries = %v, want %v", tc.msg, got, tc.over)
		}
	}
}
