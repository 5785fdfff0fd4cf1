package loop_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any of them leaves a goroutine
// behind: a loop, flow worker or timer that outlives its test is a leak
// in the code or the test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
