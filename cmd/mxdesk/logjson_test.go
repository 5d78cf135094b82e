package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestJSONLogsFollowAMessage: with [log] format = "json" every line is a JSON object, and
// the lines about one message (accepted by smtpd, stored by ingest) carry its spool id
// and its Message-ID.
func TestJSONLogsFollowAMessage(t *testing.T) {
	inst := newInstance(t, "sqlite:"+filepath.Join(t.TempDir(), "x.db"), "", "[log]\nformat = \"json\"\n")
	inst.start()
	raw := "From: alice@example.org\r\nTo: support@example.com\r\nMessage-ID: <follow-me@example.org>\r\nSubject: json\r\n\r\nhi\r\n"
	if err := send(inst.smtp, "alice@example.org", []string{"support@example.com"}, raw); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ingest to store it", 20*time.Second, func() bool { return strings.Contains(inst.log.String(), "ingest: message stored") })
	seen := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(inst.log.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if msg, _ := rec["msg"].(string); msg == "smtpd: message accepted" || msg == "ingest: message stored" {
			seen[msg] = rec
		}
	}
	acc, stored := seen["smtpd: message accepted"], seen["ingest: message stored"]
	if acc == nil || stored == nil {
		t.Fatalf("missing lines: %v", seen)
	}
	for _, rec := range []map[string]any{acc, stored} {
		if id, _ := rec["message_id"].(string); !strings.Contains(id, "follow-me@example.org") {
			t.Errorf("%s: message_id %v", rec["msg"], rec["message_id"])
		}
	}
	if acc["inbound_id"] == nil || acc["inbound_id"] != stored["inbound_id"] {
		t.Errorf("inbound_id: accepted %v, stored %v", acc["inbound_id"], stored["inbound_id"])
	}
}
