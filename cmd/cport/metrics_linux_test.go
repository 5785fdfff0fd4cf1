package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cport http --metrics serves the loops' counters to a Prometheus scrape:
// after a request, the accepted connection and the bytes it carried are
// counted.
func TestHTTPMetricsEndpoint(t *testing.T) {
	cmd := exec.Command(os.Args[0], "http", "--addr", "127.0.0.1:0", "--loops", "1", "--metrics", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "CPORT_TEST_AS_COMMAND=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	br := bufio.NewReader(out)
	var server, scrape string
	for server == "" || scrape == "" {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("cport http's output ended: %v", err)
		}
		if m := regexp.MustCompile(`listening on (http://\S+),`).FindStringSubmatch(line); m != nil {
			server = m[1]
		}
		if m := regexp.MustCompile(`metrics on (\S+)`).FindStringSubmatch(line); m != nil {
			scrape = m[1]
		}
	}
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Get(server + "/plaintext")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()

	// A send is counted when its completion reaches the loop, which may
	// come a moment after the client has the answer: scrape until it has.
	var body []byte
	value := func(name string) float64 {
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, name+`{loop="0"} `) {
				v, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
				return v
			}
		}
		t.Fatalf("no %s in the scrape:\n%s", name, body)
		return 0
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err = client.Get(scrape)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if value("cport_sent_bytes_total") >= float64(len("Hello, World!")) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v := value("cport_connections_accepted_total"); v < 1 {
		t.Errorf("accepted %v, want at least 1", v)
	}
	if v := value("cport_sent_bytes_total"); v < float64(len("Hello, World!")) {
		t.Errorf("sent %v bytes, want at least the answer's", v)
	}
	if v := value("cport_loop_wakeups_total"); v < 1 {
		t.Errorf("wake-ups %v", v)
	}
	if !strings.Contains(string(body), "go_goroutines") {
		t.Error("no Go runtime metrics in the scrape")
	}
}
