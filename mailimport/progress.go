package mailimport

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress shows how far a pass is: a bar on a terminal, else a plain line every
// progressEvery (a log file or a pipe gets no escape codes and no carriage returns).
type progress struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	what  string
	total int
	n     int
	start time.Time
	last  time.Time
}

const progressEvery = 5 * time.Second

func newProgress(w io.Writer, terminal bool, what string, total int) *progress {
	p := &progress{w: w, what: what, total: total, start: time.Now(), last: time.Now()}
	if w != nil && terminal {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("msg"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSpinnerType(14),
		)
	}
	return p
}

func (p *progress) set(n int) {
	if p == nil || p.w == nil {
		return
	}
	p.n = n
	if p.bar != nil {
		p.bar.Set(n)
		return
	}
	if now := time.Now(); now.Sub(p.last) >= progressEvery {
		p.last = now
		p.line()
	}
}

func (p *progress) line() {
	rate := float64(p.n) / max(time.Since(p.start).Seconds(), 1e-9)
	if p.total > 0 {
		fmt.Fprintf(p.w, "import: %s %d/%d messages (%d%%), %.0f msg/s\n", p.what, p.n, p.total, 100*p.n/p.total, rate)
	} else {
		fmt.Fprintf(p.w, "import: %s %d messages, %.0f msg/s\n", p.what, p.n, rate)
	}
}

// done ends the pass: the bar is cleared, or a last line is written once.
func (p *progress) done() {
	if p == nil || p.w == nil || p.start.IsZero() {
		return
	}
	if p.bar != nil {
		p.bar.Finish()
	} else if p.n > 0 {
		p.line()
	}
	p.start = time.Time{}
}
