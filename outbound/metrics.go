package outbound

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mxdesk/mxdesk/store"
)

// Metrics counts outbound mail by outcome and exposes the age of the oldest due row,
// the number an operator alerts on when the relay is down.
type Metrics struct {
	results *prometheus.CounterVec
}

// NewMetrics registers the outbound metrics with reg.
func NewMetrics(reg prometheus.Registerer, st *store.Store) *Metrics {
	m := &Metrics{results: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mxdesk_outbound_mails_total",
		Help: "Outbound delivery attempts by result: sent, deferred (temporary failure), failed (permanent).",
	}, []string{"result"})}
	for _, r := range []string{"sent", "deferred", "failed"} {
		m.results.WithLabelValues(r)
	}
	reg.MustRegister(m.results)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "mxdesk_outbound_queue_oldest_seconds",
		Help: "Age of the oldest outbox row not yet sent (0 when the queue is empty).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		oldest, err := st.OldestUnsent(ctx)
		if err != nil || oldest == nil {
			return 0
		}
		return time.Since(*oldest).Seconds()
	}))
	// Bounces and loop-guard holds happen in ingest and the ticket service (and on other
	// replicas), so they are counted from the table, like the queue.
	for _, status := range []string{store.OutboxBounced, store.OutboxSuppressed} {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mxdesk_outbound_" + status,
			Help: "Outbox rows that are " + status + ".",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := st.CountOutbox(ctx, status)
			if err != nil {
				return 0
			}
			return float64(n)
		}))
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "mxdesk_outbound_queued",
		Help: "Outbox rows waiting to be sent (pending or being sent).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := st.CountOutbox(ctx, store.OutboxPending, store.OutboxSending)
		if err != nil {
			return 0
		}
		return float64(n)
	}))
	return m
}

func (m *Metrics) count(result string) {
	if m != nil {
		m.results.WithLabelValues(result).Inc()
	}
}
