package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// echoServer serves echo on a loopback port in this process until the
// test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// resultField returns a RESULT line's field, and whether it is there.
func resultField(t *testing.T, out, key string) (float64, bool) {
	t.Helper()
	for line := range strings.Lines(out) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "RESULT ")
		if !ok {
			continue
		}
		for _, kv := range strings.Fields(rest) {
			if k, v, ok := strings.Cut(kv, "="); ok && k == key {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("%s=%q: %v", key, v, err)
				}
				return f, true
			}
		}
	}
	return 0, false
}

// Ping-pong against a server in this process: messages flow, and the
// CPU per message is that of this process, the server here.
func TestPingPong(t *testing.T) {
	addr := echoServer(t)
	var out bytes.Buffer
	args := []string{"--addr", addr, "--conns", "4", "--size", "100", "--duration", "300ms", "--warmup", "50ms",
		"--server-pid", strconv.Itoa(os.Getpid())}
	if err := run(args, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, k := range []string{"msgs_per_sec", "p50_us", "p99_us", "cpu_us_per_msg", "load_cpu_pct"} {
		if v, ok := resultField(t, out.String(), k); !ok || v <= 0 {
			t.Errorf("%s: %v (present %v), want a positive figure in:\n%s", k, v, ok, out.String())
		}
	}
}

// Paced connections send at most once per interval: the rate measured
// cannot pass the one asked for by more than a message per connection
// over the run.
func TestPacing(t *testing.T) {
	addr := echoServer(t)
	const conns, perConn, seconds = 4, 50, 0.4
	for _, pace := range [][]string{{"--conn-rate", strconv.Itoa(perConn)}, {"--rate", strconv.Itoa(conns * perConn)}} {
		var out bytes.Buffer
		args := append([]string{"--addr", addr, "--conns", strconv.Itoa(conns), "--duration", "400ms", "--warmup", "50ms"}, pace...)
		if err := run(args, &out); err != nil {
			t.Fatalf("%v: %v\n%s", pace, err, out.String())
		}
		got, _ := resultField(t, out.String(), "msgs_per_sec")
		if got <= 0 || got > conns*perConn+conns/seconds {
			t.Errorf("%v: %v msgs/s, want some and at most %v", pace, got, conns*perConn+conns/seconds)
		}
	}
}

// A --server-pid that used no CPU while messages were echoed is not the
// server: no CPU figure, and an error that says so.
func TestRefusesIdlePid(t *testing.T) {
	addr := echoServer(t)
	sleeper := exec.Command("sleep", "30")
	if err := sleeper.Start(); err != nil {
		t.Skipf("no sleep command to stand for a wrong pid: %v", err)
	}
	defer func() {
		sleeper.Process.Kill()
		sleeper.Wait()
	}()
	var out bytes.Buffer
	args := []string{"--addr", addr, "--conns", "2", "--duration", "300ms", "--warmup", "10ms",
		"--server-pid", strconv.Itoa(sleeper.Process.Pid)}
	err := run(args, &out)
	if err == nil || !strings.Contains(err.Error(), "is not the server") {
		t.Fatalf("err = %v, want one saying the pid is not the server\n%s", err, out.String())
	}
	if _, ok := resultField(t, out.String(), "cpu_us_per_msg"); ok {
		t.Fatalf("a CPU figure for a pid that used none:\n%s", out.String())
	}
}

// --idle and --burst hold their connections and report memory per
// connection; a burst reports when its last echo came back.
func TestIdleAndBurst(t *testing.T) {
	addr := echoServer(t)
	for _, mode := range []string{"--idle", "--burst"} {
		var out bytes.Buffer
		args := []string{"--addr", addr, mode, "100", "--warmup", "10ms", "--server-pid", strconv.Itoa(os.Getpid())}
		if err := run(args, &out); err != nil {
			t.Fatalf("%s: %v\n%s", mode, err, out.String())
		}
		if _, ok := resultField(t, out.String(), "rss_bytes_per_conn"); !ok {
			t.Errorf("%s: no rss_bytes_per_conn in:\n%s", mode, out.String())
		}
		if _, ok := resultField(t, out.String(), "burst_ms"); ok != (mode == "--burst") {
			t.Errorf("%s: burst_ms present %v:\n%s", mode, ok, out.String())
		}
	}
}

func TestRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--size", "0"},
		{"--rate", "-1"},
		{"--rate", "10", "--conn-rate", "1"},
		{"--idle", "10", "--burst", "10"},
		{"--conns", "0"},
		{"--idle", "10"}, // no --server-pid
	} {
		err := run(args, io.Discard)
		if err == nil {
			t.Errorf("%v: accepted", args)
		}
		var ne *net.OpError
		if errors.As(err, &ne) {
			t.Errorf("%v: got as far as dialing: %v", args, err)
		}
	}
}

// The burst waits for the server to hold every connection: a pid whose
// descriptors never grow times out with an error that says why.
func TestAwaitFDsTimesOut(t *testing.T) {
	n, err := processFDs(os.Getpid())
	if err != nil {
		t.Skipf("no /proc/PID/fd: %v", err)
	}
	err = awaitFDs(os.Getpid(), n+1000, 50*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "has not accepted every connection") {
		t.Fatalf("err = %v", err)
	}
}
