package flow_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/cport/cport/internal/backendtest"
)

// TestMain runs the tests on every backend the machine has (unless
// CPORT_BACKEND names one) and fails a run that leaves goroutines behind.
// The default Blocking pool's idle workers are not a leak: the pool is the
// process's, and its workers wait for the next call.
func TestMain(m *testing.M) {
	backendtest.Main(m, goleak.IgnoreAnyFunction("github.com/cport/cport/flow.(*Pool).work"))
}
