package main

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// bench slowreaders against both echo styles: every byte comes back, and
// the RESULT line says so.
func TestBenchSlowReaders(t *testing.T) {
	for _, style := range []string{"callback", "flow"} {
		t.Run(style, func(t *testing.T) {
			addr := startEcho(t, echoConfig{loops: 1, style: style})
			var out bytes.Buffer
			args := []string{"--addr", addr, "--conns", "4", "--duration", "200ms"}
			if runtime.GOOS == "linux" { // the server's memory is read from /proc
				args = append(args, "--server-pid", strconv.Itoa(os.Getpid()))
			}
			if err := runBenchSlowReaders(args, &out); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if !strings.Contains(out.String(), " lost_bytes=0 failed_clients=0 ") {
				t.Fatalf("want nothing lost:\n%s", out.String())
			}
		})
	}
}
