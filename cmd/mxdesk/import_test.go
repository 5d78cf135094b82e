package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/mailimport"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// mboxMessage is one message for a test mbox.
func mboxMessage(from, to, date, msgid, inReplyTo, subject, body string, extra ...string) string {
	h := fmt.Sprintf("From: %s\nTo: %s\nDate: %s\nMessage-ID: %s\nSubject: %s\n", from, to, date, msgid, subject)
	if inReplyTo != "" {
		h += "In-Reply-To: " + inReplyTo + "\nReferences: " + inReplyTo + "\n"
	}
	for _, e := range extra {
		h += e + "\n"
	}
	return h + "\n" + body + "\n"
}

func writeMbox(t testing.TB, path string, msgs []string) {
	t.Helper()
	var b bytes.Buffer
	for _, m := range msgs {
		b.WriteString("From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n")
		for _, line := range strings.SplitAfter(m, "\n") {
			if strings.HasPrefix(strings.TrimLeft(line, ">"), "From ") {
				b.WriteString(">")
			}
			b.WriteString(line)
		}
		b.WriteString("\n")
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestImportMboxInArchiveMode: an old conversation (customer, the support address's
// answer, the customer's reply) becomes one Closed ticket with three messages at their
// original dates, a recent message an open ticket of the team its To names; nothing is
// sent; a copy counts as a duplicate; a second run adds nothing.
func TestImportMboxInArchiveMode(t *testing.T) {
	for name, mkURL := range storetest.Dialects(t) {
		t.Run(name, func(t *testing.T) {
			inst := newInstance(t, mkURL(t), "", "[[agents]]\nemail = \"ana@example.com\"\nname = \"Ana\"\nteam = \"Support\"\n")
			recent := time.Now().Add(-24 * time.Hour).Format(time.RFC1123Z)
			first := mboxMessage("Alice <alice@example.org>", "support@example.com", "Mon, 02 Jan 2023 10:00:00 +0000",
				"<a1@example.org>", "", "Printer on fire", "It burns.\nFrom the second floor.")
			msgs := []string{
				// Out of order in the file: the importer sorts by date.
				mboxMessage("alice@example.org", "support@example.com", "Wed, 04 Jan 2023 10:00:00 +0000",
					"<a2@example.org>", "<s1@example.com>", "Re: Printer on fire", "Still burning."),
				first,
				mboxMessage("Support <support@example.com>", "alice@example.org", "Tue, 03 Jan 2023 10:00:00 +0000",
					"<s1@example.com>", "<a1@example.org>", "Re: Printer on fire", "Use the extinguisher."),
				mboxMessage("ana@example.com", "alice@example.org", "Tue, 03 Jan 2023 11:00:00 +0000",
					"<s2@example.com>", "<a1@example.org>", "Re: Printer on fire", "And call us."),
				mboxMessage("bob@example.net", "billing@example.com", recent, "<b1@example.net>", "", "Invoice", "Where is it?"),
				first, // the same bytes twice
				mboxMessage("carol@example.net", "support@example.com", "Thu, 05 Jan 2023 10:00:00 +0000",
					"<c1@example.net>", "", "Out of office", "Back Monday.", "Auto-Submitted: auto-replied"),
			}
			mbox := filepath.Join(inst.dir, "old.mbox")
			writeMbox(t, mbox, msgs)

			var sum mailimport.Summary
			inst.cliJSON(&sum, "import", "mbox", mbox)
			if sum.Messages != 7 || sum.Tickets != 3 || sum.Replies != 1 || sum.Ours != 2 || sum.Duplicates != 1 ||
				sum.Closed != 2 || len(sum.Failed) != 0 || len(sum.Skipped) != 0 {
				t.Fatalf("summary %+v", sum)
			}
			tickets := inst.tickets()
			if len(tickets) != 3 {
				t.Fatalf("%d tickets, want 3: %+v", len(tickets), tickets)
			}
			byContact := map[string]ticketOut{}
			for _, tk := range tickets {
				var full ticketOut
				inst.cliJSON(&full, "ticket", "show", fmt.Sprint(tk.ID))
				byContact[tk.Contact] = full
			}
			alice := byContact["alice@example.org"]
			if alice.Status != "closed" || len(alice.Messages) != 4 || !strings.HasPrefix(alice.CreatedAt, "2023-01-02T10:00:00") {
				t.Errorf("alice's ticket: status %s, %d messages, created %s; want closed, 4, 2023-01-02T10:00:00", alice.Status, len(alice.Messages), alice.CreatedAt)
			}
			dirs := ""
			for _, m := range alice.Messages {
				dirs += m.Direction + " "
			}
			if dirs != "in out out in " {
				t.Errorf("alice's messages by date: %s, want in out out in", dirs)
			}
			if !strings.Contains(alice.Messages[0].Text, "From the second floor.") {
				t.Errorf("the >From quoting was not undone: %q", alice.Messages[0].Text)
			}
			if bob := byContact["bob@example.net"]; bob.Status != "open" || bob.Team != "Billing" {
				t.Errorf("bob's ticket: %s in %s, want open in Billing", bob.Status, bob.Team)
			}
			var out []json.RawMessage
			inst.cliJSON(&out, "queue", "outbound")
			if len(out) != 0 {
				t.Errorf("the import queued %d mails, want none: %s", len(out), out)
			}
			var shown struct {
				ResponseBy *string `json:"response_by"`
			}
			inst.cliJSON(&shown, "ticket", "show", fmt.Sprint(byContact["bob@example.net"].ID))
			if shown.ResponseBy != nil {
				t.Errorf("an imported ticket has an SLA deadline %s", *shown.ResponseBy)
			}

			var again mailimport.Summary
			inst.cliJSON(&again, "import", "mbox", mbox)
			if again.AlreadyImported != 7 || again.Stored != 0 || again.Tickets != 0 {
				t.Errorf("second run: %+v, want 7 already imported (the copy too) and nothing stored", again)
			}
			if n := len(inst.tickets()); n != 3 {
				t.Errorf("after the second run: %d tickets, want 3", n)
			}
			dry := inst.cli("import", "mbox", mbox, "--dry-run")
			if !strings.Contains(dry, "dry run (nothing stored)") || !strings.Contains(dry, "already imported   7") {
				t.Errorf("dry run said:\n%s", dry)
			}
		})
	}
}

// TestImportAnswersBadInputClearly: every mistake gets a message naming the file or
// flag, and a non-zero exit; nothing is stored.
func TestImportAnswersBadInputClearly(t *testing.T) {
	inst := newInstance(t, "sqlite:"+filepath.Join(t.TempDir(), "x.db"), "", "")
	eml := filepath.Join(inst.dir, "one.eml")
	os.WriteFile(eml, []byte("Subject: no separator\n\nbody\n"), 0o644)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"import", "mbox", eml}, `not an mbox file`},
		{[]string{"import", "mbox", filepath.Join(inst.dir, "missing.mbox")}, "missing.mbox"},
		{[]string{"import", "mbox", inst.dir}, "is a directory"},
		{[]string{"import", "maildir", inst.dir}, "not a Maildir"},
		{[]string{"import", "mbox", eml, "--format", "mboxcl"}, "--format"},
		{[]string{"import", "mbox", eml, "--mailbox", "nobody@example.com"}, "--mailbox"},
		{[]string{"import", "pst", eml}, "import mbox FILE"},
	}
	for _, tt := range tests {
		cmd := exec.Command(binary, append([]string{"--config", inst.cfgPath}, tt.args...)...)
		cmd.Env = cleanEnv()
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tt.want) {
			t.Errorf("%v: %v\n%s\nwant an error with %q", tt.args, err, out, tt.want)
		}
		if strings.Contains(string(out), "panic") {
			t.Errorf("%v panicked:\n%s", tt.args, out)
		}
	}
}

// TestImportResumesAfterKill9: an import killed with SIGKILL in the middle leaves whole
// batches stored; the same command again stores the rest, and every message is stored
// exactly once.
func TestImportResumesAfterKill9(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "x.db")
	inst := newInstance(t, "sqlite:"+dbPath, "", "")
	const n = 4000
	msgs := make([]string, n)
	base := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range msgs {
		msgs[i] = mboxMessage(fmt.Sprintf("c%d@example.org", i), "support@example.com", base.Add(time.Duration(i)*time.Minute).Format(time.RFC1123Z),
			fmt.Sprintf("<m%d@example.org>", i), "", fmt.Sprintf("Question %d", i), strings.Repeat("text ", 200))
	}
	mbox := filepath.Join(inst.dir, "big.mbox")
	writeMbox(t, mbox, msgs)
	// Make the schema first, so the poll below can read while the import writes.
	inst.cli("migrate")
	st, err := store.Open(context.Background(), "sqlite:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	count := func(q string) int {
		var c int
		if err := st.DB.Get(&c, q); err != nil {
			t.Fatal(err)
		}
		return c
	}

	cmd := exec.Command(binary, "--config", inst.cfgPath, "import", "mbox", mbox)
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first batches to commit", 60*time.Second, func() bool { return count("SELECT count(*) FROM tickets") > 0 })
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	stored := count("SELECT count(*) FROM tickets")
	if stored >= n {
		t.Fatalf("the import finished (%d tickets) before it was killed; the test proves nothing", stored)
	}
	t.Logf("killed with %d of %d stored", stored, n)

	var sum mailimport.Summary
	inst.cliJSON(&sum, "import", "mbox", mbox)
	if sum.AlreadyImported != stored || sum.Tickets != n-stored || len(sum.Failed) != 0 {
		t.Errorf("resumed run: %+v; want %d already imported and %d new tickets", sum, stored, n-stored)
	}
	if got := count("SELECT count(*) FROM messages"); got != n {
		t.Errorf("%d messages stored, want %d (each once)", got, n)
	}
	if got := count("SELECT count(*) FROM inbound"); got != n {
		t.Errorf("%d spool rows, want %d", got, n)
	}
}

// TestBackupWhileServing: `mxdesk backup` beside a running serve writes a copy that
// opens and holds the ticket serve just made.
func TestBackupWhileServing(t *testing.T) {
	inst := newInstance(t, "sqlite:"+filepath.Join(t.TempDir(), "x.db"), "", "")
	inst.start()
	raw := "From: alice@example.org\r\nTo: support@example.com\r\nSubject: backed up\r\n\r\nhi\r\n"
	if err := send(inst.smtp, "alice@example.org", []string{"support@example.com"}, raw); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the ticket", 20*time.Second, func() bool { return len(inst.tickets()) == 1 })
	out := filepath.Join(t.TempDir(), "copy.db")
	if got := inst.cli("backup", out); !strings.Contains(got, "wrote "+out) {
		t.Fatalf("backup said %q", got)
	}
	cp, err := store.Open(context.Background(), "sqlite:"+out)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	var subject string
	if err := cp.DB.Get(&subject, "SELECT subject FROM tickets"); err != nil || subject != "backed up" {
		t.Errorf("the copy: %q, %v", subject, err)
	}
}

// TestImportStopsCleanlyOnCtrlC: SIGINT ends the import after the batch in hand, says
// how to go on, and the same command finishes the job.
func TestImportStopsCleanlyOnCtrlC(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "x.db")
	inst := newInstance(t, "sqlite:"+dbPath, "", "")
	const n = 4000
	msgs := make([]string, n)
	base := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range msgs {
		msgs[i] = mboxMessage(fmt.Sprintf("c%d@example.org", i), "support@example.com", base.Add(time.Duration(i)*time.Minute).Format(time.RFC1123Z),
			fmt.Sprintf("<m%d@example.org>", i), "", fmt.Sprintf("Question %d", i), strings.Repeat("text ", 200))
	}
	mbox := filepath.Join(inst.dir, "big.mbox")
	writeMbox(t, mbox, msgs)
	inst.cli("migrate")
	st, err := store.Open(context.Background(), "sqlite:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	count := func() int {
		var c int
		if err := st.DB.Get(&c, "SELECT count(*) FROM tickets"); err != nil {
			t.Fatal(err)
		}
		return c
	}
	cmd := exec.Command(binary, "--config", inst.cfgPath, "import", "mbox", mbox, "--json")
	cmd.Env = cleanEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first batches to commit", 60*time.Second, func() bool { return count() > 0 })
	cmd.Process.Signal(syscall.SIGINT)
	err = cmd.Wait()
	var sum mailimport.Summary
	if jerr := json.Unmarshal(stdout.Bytes(), &sum); jerr != nil {
		t.Fatalf("summary: %v\n%s\n%s", jerr, stdout.String(), stderr.String())
	}
	if sum.Tickets >= n {
		t.Fatalf("the import finished before SIGINT; the test proves nothing")
	}
	if err == nil || !sum.Interrupted || !strings.Contains(stderr.String(), "run the same command again") {
		t.Errorf("after SIGINT: exit %v, interrupted %v, stderr %q", err, sum.Interrupted, stderr.String())
	}
	if got := count(); got != sum.Tickets {
		t.Errorf("%d tickets stored, the summary says %d: a batch was cut in half", got, sum.Tickets)
	}
	var rest mailimport.Summary
	inst.cliJSON(&rest, "import", "mbox", mbox)
	if rest.AlreadyImported != sum.Tickets || rest.Tickets != n-sum.Tickets || count() != n {
		t.Errorf("resumed: %+v; %d tickets in all, want %d", rest, count(), n)
	}
}
