// Package metrics exports cport's per-loop counters (loop.Stats) to
// Prometheus: a prometheus.Collector over the loops of one or more
// groups, each sample labelled with its loop's index. Collecting reads
// the counters the loops keep anyway; nothing is counted for it.
package metrics
