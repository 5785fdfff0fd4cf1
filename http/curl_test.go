package http_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	cphttp "github.com/cport/cport/http"
)

// TestCurl runs curl against the server: keep-alive over two URLs, a
// chunked upload with 100-continue, and HTTP/1.0.
func TestCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	_, addr := startServer(t, echo, cphttp.Limits{})
	// run returns curl's output: the body, then its -v trace, apart so
	// the trace cannot interleave with the body.
	run := func(args ...string) string {
		t.Helper()
		var stdout, stderr strings.Builder
		cmd := exec.Command(curl, append([]string{"-sS", "--max-time", "10"}, args...)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, stderr.String())
		}
		return stdout.String() + stderr.String()
	}
	u := "http://" + addr + "/"
	if out := run("-v", "-d", "a", u, "-d", "b", u); !strings.Contains(out, "Re-using existing connection") && !strings.Contains(out, "Reusing existing") {
		t.Errorf("curl did not keep the connection alive:\n%s", out)
	}
	f, err := os.CreateTemp(t.TempDir(), "up")
	if err != nil {
		t.Fatal(err)
	}
	payload := strings.Repeat("cport ", 50000)
	f.WriteString(payload)
	f.Close()
	out := run("-v", "-H", "Transfer-Encoding: chunked", "-H", "Expect: 100-continue", "--data-binary", "@"+f.Name(), u)
	if !strings.Contains(out, "HTTP/1.1 100 Continue") || !strings.Contains(out, payload) {
		t.Errorf("chunked upload with 100-continue: no 100 or wrong echo (%d bytes of output)", len(out))
	}
	if out := run("-0", "-d", "old", u); !strings.HasPrefix(out, "old") {
		t.Errorf("HTTP/1.0: got %q", out)
	}
}
