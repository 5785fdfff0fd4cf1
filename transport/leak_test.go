package transport_test

import (
	"testing"

	"github.com/cport/cport/internal/backendtest"
)

// TestMain runs the tests on every backend the machine has (unless
// CPORT_BACKEND names one) and fails a run that leaves goroutines behind.
func TestMain(m *testing.M) { backendtest.Main(m) }
