package main

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// resultField returns a RESULT line's numeric field.
func resultField(t *testing.T, out, key string) float64 {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "RESULT ") {
			continue
		}
		for _, kv := range strings.Fields(line)[1:] {
			if k, v, ok := strings.Cut(kv, "="); ok && k == key {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("%s=%q: %v", key, v, err)
				}
				return f
			}
		}
	}
	t.Fatalf("no %s in a RESULT line of:\n%s", key, out)
	return 0
}

// bench echo ping-pongs flat out, or paced to --rate: a paced connection
// sends at most once per interval, so the rate measured cannot pass the
// one asked for by more than a message per connection over the run.
func TestBenchEchoPingPong(t *testing.T) {
	g, addr, stop, err := serveEcho(echoConfig{addr: "127.0.0.1:0", loops: 1, balance: "reuseport", style: "callback"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	defer stop()
	const conns, rate, seconds = 4, 200, 0.3
	for _, extra := range [][]string{nil, {"--rate", strconv.Itoa(rate)}} {
		var out bytes.Buffer
		args := append([]string{"echo", "--addr", addr.String(), "--conns", strconv.Itoa(conns),
			"--duration", "300ms", "--warmup", "50ms"}, extra...)
		if err := runBench(args, &out); err != nil {
			t.Fatalf("bench %v: %v", args, err)
		}
		got := resultField(t, out.String(), "msgs_per_sec")
		if got <= 0 {
			t.Fatalf("bench %v: %v msgs/s, want some", args, got)
		}
		if extra != nil && got > rate+conns/seconds {
			t.Fatalf("bench --rate %d measured %v msgs/s: pacing is off", rate, got)
		}
	}
}

func TestBenchEchoRejectsNegativeRate(t *testing.T) {
	if err := runBench([]string{"echo", "--rate", "-1"}, &bytes.Buffer{}); err == nil {
		t.Fatal("bench echo accepted --rate -1")
	}
}
