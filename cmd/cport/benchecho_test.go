package main

import (
	"bytes"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
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
		if runtime.GOOS == "linux" {
			// The generator's own CPU, which says whether it set the pace.
			if pct := resultField(t, out.String(), "load_cpu_pct"); pct <= 0 {
				t.Fatalf("bench %v: the generator used %v%% of a core, want some", args, pct)
			}
		}
	}
}

func TestBenchEchoRejectsNegativeRate(t *testing.T) {
	if err := runBench([]string{"echo", "--rate", "-1"}, &bytes.Buffer{}); err == nil {
		t.Fatal("bench echo accepted --rate -1")
	}
}

// bench echo --burst opens its connections, waits until the server (this
// process) holds them, has every one echo once, and reports memory per
// connection; a burst that lost an echo would fail the run.
func TestBenchEchoBurst(t *testing.T) {
	if _, err := serverFDs(os.Getpid()); err != nil {
		t.Skipf("no descriptor count for this process: %v", err)
	}
	for _, style := range []string{"callback", "flow"} {
		g, addr, stop, err := serveEcho(echoConfig{addr: "127.0.0.1:0", loops: 1, balance: "reuseport", style: style})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		args := []string{"echo", "--addr", addr.String(), "--burst", "200", "--warmup", "20ms", "--loops", "2",
			"--server-pid", strconv.Itoa(os.Getpid())}
		err = runBench(args, &out)
		stop()
		g.Close()
		if err != nil {
			t.Fatalf("%s: bench %v: %v\n%s", style, args, err, out.String())
		}
		if !strings.Contains(out.String(), "200 connections echoed once all at the same moment") {
			t.Fatalf("%s: not a burst of 200:\n%s", style, out.String())
		}
		resultField(t, out.String(), "rss_bytes_per_conn")
	}
}

func TestBenchEchoRejectsIdleWithBurst(t *testing.T) {
	if err := runBench([]string{"echo", "--idle", "10", "--burst", "10"}, &bytes.Buffer{}); err == nil {
		t.Fatal("bench echo accepted --idle with --burst")
	}
}

// A burst waits for the server to hold its connections, and says so when
// it never does.
func TestAwaitServerFDsTimesOut(t *testing.T) {
	n, err := serverFDs(os.Getpid())
	if err != nil {
		t.Skipf("no descriptor count for this process: %v", err)
	}
	err = awaitServerFDs(os.Getpid(), n+1000, 50*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "has not accepted every connection") {
		t.Fatalf("err = %v", err)
	}
}

// bench echo waits for a server that is still starting (README's recipe
// starts it in the background on the line before) rather than failing on
// its first refused connection.
func TestBenchEchoWaitsForAStartingServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // refused until the server below starts on it
	started := make(chan func(), 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		g, _, stop, err := serveEcho(echoConfig{addr: addr, loops: 1, balance: "reuseport", style: "callback"})
		if err != nil {
			t.Error(err)
			started <- func() {}
			return
		}
		started <- func() { stop(); g.Close() }
	}()
	defer func() { (<-started)() }()
	var out bytes.Buffer
	args := []string{"echo", "--addr", addr, "--conns", "2", "--duration", "200ms", "--warmup", "50ms"}
	if err := runBench(args, &out); err != nil {
		t.Fatalf("bench against a server starting 300 ms later: %v", err)
	}
	if got := resultField(t, out.String(), "msgs_per_sec"); got <= 0 {
		t.Fatalf("%v msgs/s, want some", got)
	}
}
