package metrics_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/metrics"
)

// A registry with the loops' collector, served on /metrics.
func Example() {
	g, err := loop.NewGroup(2, loop.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer g.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(g))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "cport_connections_open{") {
			fmt.Println(line)
		}
	}
	// Output:
	// cport_connections_open{loop="0"} 0
	// cport_connections_open{loop="1"} 0
}
