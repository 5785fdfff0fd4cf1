package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	nethttp "net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/metrics"
)

// serveMetrics serves Prometheus metrics on addr's /metrics: the loops'
// counters and the Go runtime's and process's. It runs on Go's net/http,
// apart from the loops, so a scrape never competes with the traffic it
// measures. The returned function stops it.
func serveMetrics(addr string, g *loop.Group, stdout io.Writer) (func(), error) {
	if addr == "" {
		return func() {}, nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(g),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics: %w", err)
	}
	mux := nethttp.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &nethttp.Server{Handler: mux}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, nethttp.ErrServerClosed) {
			fmt.Fprintln(stdout, "metrics:", err)
		}
	}()
	fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", ln.Addr())
	return func() { srv.Close() }, nil
}
