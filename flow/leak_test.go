package flow_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any of them leaves a goroutine
// behind: a loop, flow or timer that outlives its test is a leak in the
// code or the test. The default Blocking pool's idle workers are not: the
// pool is the process's, and its workers wait for the next call.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/cport/cport/flow.(*Pool).work"))
}
