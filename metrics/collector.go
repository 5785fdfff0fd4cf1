package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cport/cport/loop"
)

// stat is one exported number: how to name it and how to read it.
type stat struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(loop.Stats) float64
}

func newStat(name, help string, kind prometheus.ValueType, value func(loop.Stats) float64) stat {
	return stat{prometheus.NewDesc("cport_"+name, help, []string{"loop"}, nil), kind, value}
}

var stats = []stat{
	newStat("loop_wakeups_total", "Returns from the loop's wait for completions.", prometheus.CounterValue,
		func(s loop.Stats) float64 { return float64(s.Wakeups) }),
	newStat("loop_completions_total", "Completions the loop dispatched.", prometheus.CounterValue,
		func(s loop.Stats) float64 { return float64(s.Completions) }),
	newStat("loop_timers", "Timers armed on the loop.", prometheus.GaugeValue,
		func(s loop.Stats) float64 { return float64(s.Timers) }),
	newStat("connections_accepted_total", "Connections accepted onto the loop.", prometheus.CounterValue,
		func(s loop.Stats) float64 { return float64(s.ConnsAccepted) }),
	newStat("connections_dialed_total", "Connections dialed from the loop.", prometheus.CounterValue,
		func(s loop.Stats) float64 { return float64(s.ConnsDialed) }),
	newStat("connections_closed_total", "The loop's connections that ended.", prometheus.CounterValue,
		func(s loop.Stats) float64 { return float64(s.ConnsClosed) }),
	newStat("connections_open", "The loop's connections open now.", prometheus.GaugeValue,
		func(s loop.Stats) float64 { return float64(s.ConnsOpen) }),
	newStat("received_bytes_total", "Bytes received on the loop's connections.", prometheus.CounterValue,
		func(s loop.Stats) float64 { return float64(s.BytesIn) }),
	newStat("sent_bytes_total", "Bytes sent on the loop's connections.", prometheus.CounterValue,
		func(s loop.Stats) float64 { return float64(s.BytesOut) }),
	newStat("write_queued_bytes", "Bytes the loop's connections have queued and not yet sent.", prometheus.GaugeValue,
		func(s loop.Stats) float64 { return float64(s.WriteQueued) }),
	newStat("flows_running", "Flows started on the loop and not ended.", prometheus.GaugeValue,
		func(s loop.Stats) float64 { return float64(s.FlowsRunning) }),
	newStat("flows_parked", "The loop's flows waiting for I/O, a timer or an event.", prometheus.GaugeValue,
		func(s loop.Stats) float64 { return float64(s.FlowsParked) }),
}

// Collector is a prometheus.Collector of the loops of groups, labelled
// loop="0", "1", … in the order of the groups and their loops. Register
// it once: prometheus.MustRegister(metrics.NewCollector(g)).
type Collector struct {
	loops []*loop.Loop
}

// NewCollector collects the loops of groups.
func NewCollector(groups ...*loop.Group) *Collector {
	c := &Collector{}
	for _, g := range groups {
		c.loops = append(c.loops, g.Loops()...)
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, s := range stats {
		ch <- s.desc
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for i, l := range c.loops {
		snap := l.Stats()
		label := strconv.Itoa(i)
		for _, s := range stats {
			ch <- prometheus.MustNewConstMetric(s.desc, s.kind, s.value(snap), label)
		}
	}
}
