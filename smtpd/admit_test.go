package smtpd

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestMailFromWaitsForAdmit shows the backpressure seam: MAIL FROM is answered only once
// Admit lets the session go on, and a session still waiting when shutdown begins is told
// to come back later (421 4.3.2), never refused for good.
func TestMailFromWaitsForAdmit(t *testing.T) {
	entered := make(chan struct{}, 4)
	release := make(chan struct{})
	var gate atomic.Pointer[chan struct{}] // what Admit waits for
	gate.Store(&release)
	cfg := testConfig()
	cfg.Admit = func(ctx context.Context) error {
		entered <- struct{}{}
		select {
		case <-*gate.Load():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s, addr, spool := start(t, cfg)

	// First session: waits in Admit, then goes on when released and is accepted.
	rc, _ := dial(t, addr)
	rc.cmd("EHLO client.example.org")
	rc.write("MAIL FROM:<alice@example.org>\r\n")
	<-entered
	var answered []string
	go func() { close(release) }()
	answered = append(answered, rc.reply())
	for _, c := range []string{"RCPT TO:<support@example.com>", "DATA"} {
		answered = append(answered, rc.cmd(c))
	}
	rc.write(okHeader + "paced\r\n.\r\n")
	answered = append(answered, rc.reply())
	if !strings.HasPrefix(answered[0], "250") || !strings.HasPrefix(answered[3], "250") || len(spool.all()) != 1 {
		t.Fatalf("released session got %q, spooled %d; want 250s and one message", answered, len(spool.all()))
	}

	rc.cmd("QUIT")

	// Second: Admit waits for a gate that never opens.
	never := make(chan struct{})
	gate.Store(&never)
	rc2, _ := dial(t, addr)
	rc2.cmd("EHLO client.example.org")
	rc2.write("MAIL FROM:<bob@example.org>\r\n")
	<-entered
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	if got := rc2.reply(); !strings.HasPrefix(got, "421 4.3.2") {
		t.Errorf("session waiting at shutdown got %q, want 421 4.3.2", got)
	}
	if rest := rc2.reply(); rest != "" {
		t.Errorf("after 421 the connection stayed open (%q)", rest)
	}
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if len(spool.all()) != 1 {
		t.Errorf("spooled %d, want the first message only", len(spool.all()))
	}
}
