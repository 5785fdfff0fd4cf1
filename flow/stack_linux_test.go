package flow_test

import (
	"io"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"github.com/cport/cport/flow"
)

// fixedStacksEnv marks the run of TestEchoFlowKeepsMinimumStack that the
// test starts in a child process with the runtime's adaptive initial stack
// size off.
const fixedStacksEnv = "CPORT_TEST_FIXED_STACKS"

// An echo server's flow, parked in Next after it has echoed, keeps the
// smallest stack the runtime gives (2 KiB on Linux): the calls that copy
// a Write into the transport's queue stay within the half of it the
// runtime lets a call chain use before it doubles the stack, which it
// would then keep for as long as the flow lives, parked flows being too
// deep to be shrunk back. The runtime starts goroutines at the average
// stack size it saw at the last collection, which in a test binary (the
// testing package's own goroutines are deep) is already 4 KiB and would
// hide a growth: so the measurement runs in a child process with that
// adaptation off (GODEBUG=adaptivestackstart=0), where every flow starts
// at 2 KiB, as in a server whose goroutines are mostly its flows. The
// echo runs a little deeper than cport echo's (handlerFrame), for margin.
func TestEchoFlowKeepsMinimumStack(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation deepens every frame")
	}
	if os.Getenv(fixedStacksEnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEchoFlowKeepsMinimumStack$", "-test.v")
		cmd.Env = append(os.Environ(), fixedStacksEnv+"=1", "GODEBUG="+os.Getenv("GODEBUG")+",adaptivestackstart=0")
		out, err := cmd.CombinedOutput()
		t.Logf("with fixed 2 KiB initial stacks:\n%s", out)
		if err != nil {
			t.Fatalf("the run with fixed initial stacks failed: %v", err)
		}
		return
	}
	const n = 500
	l, ln := flowListener(t)
	clients, servers := dialPairs(t, l, ln, n)
	runtime.GC()
	before := stackInUse()
	fs := make([]*flow.Flow, n)
	for i := range n {
		fs[i] = flow.Go(l, func(*flow.Flow) { deeperEcho(servers[i]) })
	}
	reply := make([]byte, 64)
	for _, c := range clients {
		if _, err := c.Write(reply); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, reply); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	per := float64(stackInUse()-before) / n
	t.Logf("stack per echo flow parked in Next after an echo: %.0f B", per)
	if per > 3<<10 {
		t.Errorf("an echo flow parked after an echo holds %.0f B of stack, want the initial 2 KiB", per)
	}
	for _, c := range clients {
		c.Close()
	}
	for _, f := range fs {
		waitFlow(t, f)
	}
}

// echoServer is cport echo's flow: it closes its connection when it
// ends, and echoes what Next returns with Write.
func echoServer(c *flow.Conn) {
	defer c.Close()
	for {
		b, err := c.Next()
		if len(b) > 0 {
			if _, werr := c.Write(b); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// handlerFrame is the stack an echo flow's code may use above what
// cport echo's uses, with the copy into the write queue still within the
// initial stack: the margin the test keeps for handlers a little deeper.
const handlerFrame = 128

// deeperEcho runs echoServer under a frame of handlerFrame bytes.
//
//go:noinline
func deeperEcho(c *flow.Conn) {
	var frame [handlerFrame]byte
	frame[len(c.LocalAddr().Network())%handlerFrame] = 1
	echoServer(c)
	runtime.KeepAlive(&frame)
}
