package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mxdesk/mxdesk/outbound/sinktest"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// TestOperatorRetriesAFailedMail: a relay refuses the acknowledgement for good; the
// operator sees why in `queue outbound`, fixes the relay and sends it again by hand,
// under the same Message-ID.
func TestOperatorRetriesAFailedMail(t *testing.T) {
	for name, mkURL := range storetest.Dialects(t) {
		t.Run(name, func(t *testing.T) {
			sink := sinktest.Start(t)
			sink.SetRefuse(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "relay access denied"}, -1)
			inst := newInstance(t, mkURL(t), sink.Addr, "")
			inst.start()
			if err := send(inst.smtp, "alice@example.org", []string{"support@example.com"},
				"From: alice@example.org\r\nSubject: hi\r\nMessage-ID: <q1@example.org>\r\n\r\nhello\r\n"); err != nil {
				t.Fatal(err)
			}
			type row struct {
				ID        int64  `json:"id"`
				Status    string `json:"status"`
				MessageID string `json:"message_id"`
				LastError string `json:"last_error"`
			}
			var rows []row
			waitFor(t, "a failed outbox row", 15*time.Second, func() bool {
				inst.cliJSON(&rows, "queue", "outbound", "--status", "failed")
				return len(rows) == 1
			})
			if !strings.Contains(rows[0].LastError, "relay access denied") {
				t.Errorf("failed row keeps %q, want the relay's reply", rows[0].LastError)
			}
			sink.SetRefuse(nil, 0)
			out := inst.cli("queue", "retry", "outbound", fmt.Sprint(rows[0].ID))
			if !strings.Contains(out, "due now") {
				t.Errorf("retry said %q", out)
			}
			msgs := sink.Wait(t, 1, 30*time.Second) // the worker polls every 5 s
			if got := msgs[0].Header.Get("Message-ID"); got != "<"+rows[0].MessageID+">" {
				t.Errorf("resent as %s, was %s", got, rows[0].MessageID)
			}
			cmd := exec.Command(binary, "--config", inst.cfgPath, "queue", "drop", "outbound", fmt.Sprint(rows[0].ID))
			cmd.Env = cleanEnv()
			if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "already sent") {
				t.Errorf("dropping a sent mail: %v %s", err, out)
			}
		})
	}
}
