package flow_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
)

// cat echoes what a flow writes to its stdin; Wait reports success.
func TestCommandCat(t *testing.T) {
	l := startLoop(t, loop.Config{})
	run(t, l, func(f *flow.Flow) {
		cmd := flow.Command(f.Context(), "cat")
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatalf("Start: %v", err)
		}
		msg := strings.Repeat("the loop parks this flow, not a thread\n", 1000)
		flow.Go(l, func(*flow.Flow) {
			io.WriteString(in, msg)
			in.Close()
		})
		got, err := io.ReadAll(out)
		if err != nil || string(got) != msg {
			t.Errorf("read %d bytes, err %v; want the %d written", len(got), err, len(msg))
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("Wait: %v", err)
		}
	})
}

// 100 MiB of numbered blocks through cat arrive whole and in order.
func TestCommandStream100MiB(t *testing.T) {
	const block, blocks = 1 << 20, 100
	if testing.Short() {
		t.Skip("streams 100 MiB")
	}
	base := randomBytes(7, block)
	l := startLoop(t, loop.Config{})
	run(t, l, func(f *flow.Flow) {
		cmd := flow.Command(f.Context(), "cat")
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatalf("Start: %v", err)
		}
		sent := sha256.New()
		writer := flow.Go(l, func(*flow.Flow) {
			defer in.Close()
			buf := bytes.Clone(base)
			for i := range blocks {
				binary.LittleEndian.PutUint64(buf, uint64(i)) // numbered: a lost or repeated block shows
				sent.Write(buf)
				if _, err := in.Write(buf); err != nil {
					t.Errorf("block %d: %v", i, err)
					return
				}
			}
		})
		got := sha256.New()
		start := time.Now()
		n, err := io.CopyBuffer(got, out, make([]byte, 256<<10))
		took := time.Since(start)
		if err != nil || n != block*blocks {
			t.Fatalf("read %d bytes, err %v; want %d", n, err, block*blocks)
		}
		waitFlow(t, writer)
		if !bytes.Equal(got.Sum(nil), sent.Sum(nil)) {
			t.Fatal("the bytes read differ from the bytes written")
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("Wait: %v", err)
		}
		t.Logf("%s: 100 MiB through cat in %v (%.0f MiB/s)", l.Backend(), took, 100/took.Seconds())
	})
}

// Exit statuses come back as exec.ExitError; a missing program fails
// Start.
func TestCommandExitCodes(t *testing.T) {
	l := startLoop(t, loop.Config{})
	run(t, l, func(f *flow.Flow) {
		for _, want := range []int{0, 1, 3, 255} {
			err := flow.Command(f.Context(), "sh", "-c", fmt.Sprintf("exit %d", want)).Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Errorf("exit %d: %v", want, err)
			}
			if code != want {
				t.Errorf("exit %d: got %d (%v)", want, code, err)
			}
		}
		if err := flow.Command(f.Context(), "/nonexistent/cport-test").Start(); err == nil {
			t.Error("Start of a missing program succeeded")
		}
	})
}

// A context's deadline kills the command; Signal delivers a signal.
func TestCommandKillAndSignal(t *testing.T) {
	l := startLoop(t, loop.Config{})
	run(t, l, func(f *flow.Flow) {
		ctx, cancel := context.WithTimeout(f.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := flow.Command(ctx, "sleep", "30").Run()
		var ee *exec.ExitError
		if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ee) {
			t.Errorf("sleep past the deadline: %v, want DeadlineExceeded and an ExitError", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("killed after %v", d)
		}

		cmd := flow.Command(f.Context(), "sleep", "30")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		err = cmd.Wait()
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
			t.Errorf("after SIGTERM: %v", err)
		}
		if err := cmd.Kill(); err == nil {
			t.Error("Kill after Wait succeeded")
		}
	})
}

// Fifty commands run at once on one loop, each with stdout and stderr
// read by its own flows, and nothing crosses between the streams.
func TestCommandManyConcurrent(t *testing.T) {
	const n = 50
	l := startLoop(t, loop.Config{})
	flows := make([]*flow.Flow, n)
	for i := range n {
		flows[i] = flow.Go(l, func(f *flow.Flow) {
			cmd := flow.Command(f.Context(), "sh", "-c", `echo out-$1; echo err-$1 >&2; exit $(($1 % 3))`, "sh", fmt.Sprint(i))
			out, _ := cmd.StdoutPipe()
			errp, _ := cmd.StderrPipe()
			if err := cmd.Start(); err != nil {
				t.Errorf("%d: Start: %v", i, err)
				return
			}
			var stderr []byte
			rf := flow.Go(l, func(*flow.Flow) { stderr, _ = io.ReadAll(errp) })
			stdout, err := io.ReadAll(out)
			if err != nil {
				t.Errorf("%d: stdout: %v", i, err)
			}
			if err := rf.Join(f.Context()); err != nil {
				t.Errorf("%d: %v", i, err)
			}
			if got, want := string(stdout), fmt.Sprintf("out-%d\n", i); got != want {
				t.Errorf("%d: stdout %q, want %q", i, got, want)
			}
			if got, want := string(stderr), fmt.Sprintf("err-%d\n", i); got != want {
				t.Errorf("%d: stderr %q, want %q", i, got, want)
			}
			err = cmd.Wait()
			if code := cmd.ProcessState.ExitCode(); code != i%3 {
				t.Errorf("%d: exit %d (%v), want %d", i, code, err, i%3)
			}
		})
	}
	for _, f := range flows {
		waitFlow(t, f)
	}
}

// Pipes also work from plain goroutines, blocking them; a flow waits for
// the goroutine through Blocking.
func TestPipeFromGoroutine(t *testing.T) {
	l := startLoop(t, loop.Config{})
	run(t, l, func(f *flow.Flow) {
		cmd := flow.Command(f.Context(), "cat")
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatalf("Start: %v", err)
		}
		msg := randomBytes(5, 1<<20)
		got := make(chan []byte, 1)
		go func() {
			go func() { in.Write(msg); in.Close() }()
			b, _ := io.ReadAll(out)
			got <- b
		}()
		var b []byte
		flow.Blocking(f.Context(), func() error { b = <-got; return nil })
		if !bytes.Equal(b, msg) {
			t.Errorf("read back %d bytes, want the %d written", len(b), len(msg))
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("Wait: %v", err)
		}
	})
}

// A cancelled flow leaves Wait at once; the command is still reaped.
func TestCommandWaitCancelled(t *testing.T) {
	l := startLoop(t, loop.Config{})
	var pid int
	f := flow.Go(l, func(f *flow.Flow) {
		cmd := flow.Command(f.Context(), "sleep", "30")
		if err := cmd.Start(); err != nil {
			t.Errorf("Start: %v", err)
			return
		}
		pid = cmd.Pid()
		if err := cmd.Wait(); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait of a cancelled flow: %v", err)
		}
		cmd.Kill()
	})
	time.Sleep(50 * time.Millisecond)
	f.Cancel()
	waitFlow(t, f)
	// Reaped on the loop once the kill lands: the pid goes away.
	deadline := time.Now().Add(hangGuard)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still exists", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Commands waiting to exit hold no goroutine each: their exits are polls
// on the loop's port, so a runner with many children stays cheap.
func TestCommandWaitHoldsNoGoroutine(t *testing.T) {
	const n = 50
	l := startLoop(t, loop.Config{})
	runAll := func(args ...string) (started chan struct{}, flows []*flow.Flow) {
		started = make(chan struct{}, n)
		for range n {
			flows = append(flows, flow.Go(l, func(f *flow.Flow) {
				cmd := flow.Command(f.Context(), args[0], args[1:]...)
				if err := cmd.Start(); err != nil {
					t.Errorf("Start: %v", err)
				}
				started <- struct{}{}
				if err := cmd.Wait(); err != nil {
					t.Errorf("Wait: %v", err)
				}
			}))
		}
		return started, flows
	}
	// A first round grows the Blocking pool that forks, so it is in the
	// baseline.
	_, flows := runAll("true")
	for _, f := range flows {
		waitFlow(t, f)
	}
	base := runtime.NumGoroutine()
	started, flows := runAll("sleep", "0.5")
	for range n {
		within(t, started, "Start")
	}
	during := runtime.NumGoroutine()
	for _, f := range flows {
		waitFlow(t, f)
	}
	// Each flow is a coroutine, a goroutine of its own; the commands must
	// add nothing to that.
	t.Logf("goroutines: %d before, %d with %d flows waiting for commands", base, during, n)
	if during-base > n+n/5 {
		t.Errorf("%d goroutines with %d commands waiting, %d before", during, n, base)
	}
}
