package account

import "github.com/prometheus/client_golang/prometheus"

// Metrics count what an operator watches for: failed sign-ins (a guesser at work) and
// throttled attempts. A nil *Metrics counts nothing.
type Metrics struct {
	failures  *prometheus.CounterVec
	throttles *prometheus.CounterVec
}

// NewMetrics registers the account metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mxdesk_portal_signin_failures_total",
			Help: "Failed portal sign-ins, by reason (bad_credentials, not_verified, bad_code, throttled, ...).",
		}, []string{"reason"}),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mxdesk_portal_throttled_total",
			Help: "Portal attempts refused by a throttle, by action (signin, mail, code).",
		}, []string{"action"}),
	}
	reg.MustRegister(m.failures, m.throttles)
	return m
}

func (m *Metrics) failure(reason string) {
	if m != nil {
		m.failures.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) throttled(action string) {
	if m != nil {
		m.throttles.WithLabelValues(action).Inc()
	}
}
