package testcert

import (
	"os"
	"path/filepath"
	"testing"
)

// TempDir is a temporary directory for flat files, removed at the end of
// the test. Not t.TempDir: its cleanup's os.RemoveAll deletes on Windows
// through FileDispositionInformationEx, which Wine 8 lacks
// (ERROR_INVALID_FUNCTION fails the test), while os.Remove (DeleteFile,
// RemoveDirectory) works on Wine and Windows alike.
func TempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "cport-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			os.Remove(filepath.Join(dir, e.Name()))
		}
		if err := os.Remove(dir); err != nil {
			t.Errorf("removing the test's directory: %v", err)
		}
	})
	return dir
}
