package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
	"golang.org/x/sys/unix"
)

// switchCost times n round trips between two flows of control of the
// model's kind: control goes from one to the other and back.
func switchCost(exe, model string, n int) (time.Duration, error) {
	switch model {
	case "process":
		return switchProcesses(exe, n)
	case "thread":
		return switchThreads(n)
	case "goroutine":
		return switchGoroutines(n), nil
	case "callback":
		return switchCallbacks(n)
	case "flow":
		return switchFlows(n)
	}
	return 0, fmt.Errorf("no switch for model %q", model)
}

// pipePair is two blocking pipes, one each way: the kernel wakes the
// reader of each byte, so a round trip is two sleeps and two wake-ups.
type pipePair struct{ aToB, bToA [2]int }

func newPipePair() (*pipePair, error) {
	var p pipePair
	if err := unix.Pipe2(p.aToB[:], unix.O_CLOEXEC); err != nil {
		return nil, err
	}
	if err := unix.Pipe2(p.bToA[:], unix.O_CLOEXEC); err != nil {
		p.close()
		return nil, err
	}
	return &p, nil
}

// timePipes times n round trips over p after one untimed round trip,
// which waits until the other side is running.
func timePipes(p *pipePair, n int) (time.Duration, error) {
	if err := pingPipes(p.bToA[0], p.aToB[1], 1); err != nil {
		return 0, err
	}
	start := time.Now()
	err := pingPipes(p.bToA[0], p.aToB[1], n)
	return time.Since(start), err
}

func (p *pipePair) close() {
	for _, fd := range []int{p.aToB[0], p.aToB[1], p.bToA[0], p.bToA[1]} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// pingPipes sends a byte on w and waits for one on r, n times.
func pingPipes(r, w, n int) error {
	b := []byte{0}
	for range n {
		if _, err := unix.Write(w, b); err != nil {
			return err
		}
		if m, err := unix.Read(r, b); m != 1 {
			return fmt.Errorf("ping: read %d bytes: %v", m, err)
		}
	}
	return nil
}

// pongPipes answers each byte read on r with one on w until EOF.
func pongPipes(r, w int) {
	b := []byte{0}
	for {
		if m, _ := unix.Read(r, b); m != 1 {
			return
		}
		if _, err := unix.Write(w, b); err != nil {
			return
		}
	}
}

// switchProcesses ping-pongs a byte with a `cport model-switch` child.
func switchProcesses(exe string, n int) (time.Duration, error) {
	p, err := newPipePair()
	if err != nil {
		return 0, err
	}
	defer p.close()
	// The child's ends belong to these Files from here on; this process
	// closes its copies once the child has started.
	childIn, childOut := os.NewFile(uintptr(p.aToB[0]), "ping"), os.NewFile(uintptr(p.bToA[1]), "pong")
	p.aToB[0], p.bToA[1] = -1, -1
	defer childIn.Close()
	defer childOut.Close()
	cmd := exec.Command(exe, "model-switch")
	cmd.ExtraFiles = []*os.File{childIn, childOut}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	childIn.Close()
	childOut.Close()
	// The first round trip waits out the child's start-up.
	d, err := timePipes(p, n)
	unix.Close(p.aToB[1]) // EOF ends the child
	p.aToB[1] = -1
	if werr := cmd.Wait(); err == nil {
		err = werr
	}
	return d, err
}

// runModelSwitch is the hidden `cport model-switch`: the far end of the
// process switch, answering bytes from fd 3 on fd 4.
func runModelSwitch(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	runtime.LockOSThread()
	pongPipes(3, 4)
	return nil
}

// switchThreads ping-pongs a byte between two goroutines locked to their
// threads, through blocking pipes: each hop is a thread put to sleep in
// the kernel and another woken, as in a thread-per-connection server.
func switchThreads(n int) (time.Duration, error) {
	p, err := newPipePair()
	if err != nil {
		return 0, err
	}
	defer p.close()
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		pongPipes(p.aToB[0], p.bToA[1])
		close(done)
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	d, err := timePipes(p, n)
	unix.Close(p.aToB[1])
	p.aToB[1] = -1
	<-done
	return d, err
}

// switchGoroutines ping-pongs over unbuffered channels, as flow's
// BenchmarkChanPingPong does.
func switchGoroutines(n int) time.Duration {
	ping, pong := make(chan struct{}), make(chan struct{})
	go func() {
		for range ping {
			pong <- struct{}{}
		}
	}()
	ping <- struct{}{}
	<-pong
	start := time.Now()
	for range n {
		ping <- struct{}{}
		<-pong
	}
	d := time.Since(start)
	close(ping)
	return d
}

// switchCallbacks passes control between two callbacks on one loop, each
// queueing the other with CallSoon: a hop is one turn of the loop's ready
// queue, the way one callback hands work to another without a goroutine.
func switchCallbacks(n int) (time.Duration, error) {
	l, err := loop.Start(loop.Config{})
	if err != nil {
		return 0, err
	}
	defer l.Close()
	done := make(chan time.Duration, 1)
	var ping, pong func()
	left := n
	var start time.Time
	ping = func() {
		if left == 0 {
			done <- time.Since(start)
			return
		}
		left--
		l.CallSoon(pong)
	}
	pong = func() { l.CallSoon(ping) }
	if err := l.Post(func() { start = time.Now(); ping() }); err != nil {
		return 0, err
	}
	select {
	case d := <-done:
		return d, nil
	case <-time.After(time.Minute):
		return 0, errors.New("callbacks: no end in a minute")
	}
}

// switchFlows ping-pongs two flows on one loop through a pair of Events,
// as flow's BenchmarkFlowSwitch does.
func switchFlows(n int) (time.Duration, error) {
	l, err := loop.Start(loop.Config{})
	if err != nil {
		return 0, err
	}
	defer l.Close()
	var ping, pong flow.Event
	var d time.Duration
	ponger := flow.Go(l, func(f *flow.Flow) {
		ctx := f.Context()
		for range n + 1 {
			if pong.Wait(ctx) != nil {
				return
			}
			pong.Clear()
			ping.Set()
		}
	})
	pinger := flow.Go(l, func(f *flow.Flow) {
		ctx := f.Context()
		start := time.Now()
		// Round 0 gets both flows running before the clock starts. The
		// round is written out rather than a closure: a frame more
		// between the flow and its switch costs a mispredicted return.
		for i := range n + 1 {
			if i == 1 {
				start = time.Now()
			}
			pong.Set()
			if ping.Wait(ctx) != nil {
				return
			}
			ping.Clear()
		}
		d = time.Since(start)
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pinger.Join(ctx); err != nil {
		return 0, fmt.Errorf("flows: %w", err)
	}
	if err := ponger.Join(ctx); err != nil {
		return 0, fmt.Errorf("flows: %w", err)
	}
	return d, nil
}
