package http_test

import (
	"io"
	nethttp "net/http"
	"testing"

	cphttp "github.com/cport/cport/http"
)

func TestGetKeepAlive(t *testing.T) {
	_, addr := startServer(t, cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		w.WriteString(r.RemoteAddr().String())
	}), cphttp.Limits{})
	client := &nethttp.Client{Transport: &nethttp.Transport{}}
	defer client.CloseIdleConnections()
	var first string
	for i := 0; i < 5; i++ {
		resp, err := client.Get("http://" + addr + "/x")
		if err != nil {
			t.Fatalf("Get %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("Get %d: status %d, body err %v", i, resp.StatusCode, err)
		}
		if i == 0 {
			first = string(b)
		} else if string(b) != first {
			t.Errorf("request %d came from %s, want the kept-alive %s", i, b, first)
		}
	}
}
