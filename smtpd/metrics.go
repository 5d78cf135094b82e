package smtpd

import (
	"errors"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts DATA verdicts and times the wait between the end of DATA and the reply,
// which is what a sending MTA experiences (authentication, spool commit).
type Metrics struct {
	verdicts *prometheus.CounterVec
	reply    prometheus.Histogram
}

// NewMetrics registers the SMTP metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mxdesk_smtp_messages_total",
			Help: "Messages by verdict at the end of DATA: accepted (250), deferred (4xx), refused (5xx), aborted (the client went away).",
		}, []string{"verdict"}),
		reply: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mxdesk_smtp_data_reply_seconds",
			Help:    "Time from the end of an accepted message's DATA to its 250: authentication and the durable spool commit.",
			Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5},
		}),
	}
	for _, v := range []string{"accepted", "deferred", "refused", "aborted"} {
		m.verdicts.WithLabelValues(v)
	}
	reg.MustRegister(m.verdicts, m.reply)
	return m
}

func (m *Metrics) observe(err error, bodyRead time.Time) {
	if m == nil {
		return
	}
	var se *smtp.SMTPError
	switch {
	case err == nil:
		m.verdicts.WithLabelValues("accepted").Inc()
		if !bodyRead.IsZero() {
			m.reply.Observe(time.Since(bodyRead).Seconds())
		}
	case errors.As(err, &se) && se.Code >= 500:
		m.verdicts.WithLabelValues("refused").Inc()
	case errors.As(err, &se):
		m.verdicts.WithLabelValues("deferred").Inc()
	default:
		m.verdicts.WithLabelValues("aborted").Inc()
	}
}
