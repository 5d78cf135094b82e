package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/threading"
)

// needPeer returns the path of a Debian peer program. Without it the test skips, saying
// so, except under CI=true, where .ci/run installed it and its absence is a failure.
func needPeer(t *testing.T, name string) string {
	t.Helper()
	for _, p := range []string{name, "/usr/sbin/" + name, "/usr/bin/" + name} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (CI=true: .ci/run installs it)", name)
	}
	t.Skipf("%s is not installed: skipping the Debian-peer test (apt-get install swaks postfix)", name)
	return ""
}

// TestNewcomerWithSwaksAndSmtpSink is the README's walk-through with the real programs:
// swaks sends a mail with an attachment, Postfix's smtp-sink plays the relay and dumps
// the acknowledgement, swaks replies to its Reply-To.
func TestNewcomerWithSwaksAndSmtpSink(t *testing.T) {
	swaks := needPeer(t, "swaks")
	smtpSink := needPeer(t, "smtp-sink")
	for name, mkURL := range storetest.Dialects(t) {
		t.Run(name, func(t *testing.T) {
			// smtp-sink drops to nobody, who cannot enter t.TempDir()'s 0700 parents.
			dump, err := os.MkdirTemp("", "mxdesk-sink")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dump) })
			os.Chmod(dump, 0o777)
			relay := freePort(t)
			sink := exec.Command(smtpSink, "-u", "nobody", "-d", filepath.Join(dump, "%Y%m%d%H%M%S."), relay, "10")
			var sinkErr bytes.Buffer
			sink.Stderr = &sinkErr
			if err := sink.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sink.Process.Kill(); sink.Wait() })

			inst := newInstance(t, mkURL(t), relay, "")
			inst.start()
			photoPath := filepath.Join(t.TempDir(), "photo.png")
			data := photo()
			if err := os.WriteFile(photoPath, data, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(swaks, "--server", inst.smtp, "--to", "support@example.com", "--from", "alice@example.org",
				"--header", "Subject: Printer on fire", "--attach", photoPath).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "<-  250") {
				t.Fatalf("swaks: %v\n%s", err, out)
			}
			var list []ticketOut
			waitFor(t, "ticket 1", 15*time.Second, func() bool { list = inst.tickets(); return len(list) == 1 })
			var show ticketOut
			inst.cliJSON(&show, "ticket", "show", "1")
			sum := sha256.Sum256(data)
			if show.Subject != "Printer on fire" || show.Contact != "alice@example.org" || len(show.Messages) != 1 ||
				len(show.Messages[0].Attachments) != 1 || show.Messages[0].Attachments[0].SHA256 != hex.EncodeToString(sum[:]) {
				t.Fatalf("ticket 1 = %+v, want the swaks mail with photo.png sha256 %x", show, sum)
			}

			var ack *mail.Message
			waitFor(t, "the acknowledgement in smtp-sink's dump", 15*time.Second, func() bool {
				files, _ := filepath.Glob(filepath.Join(dump, "*"))
				if len(files) == 0 {
					return false
				}
				raw, err := os.ReadFile(files[0])
				if err != nil {
					return false
				}
				ack, err = mail.ReadMessage(bytes.NewReader(raw))
				return err == nil
			})
			if got := ack.Header.Get("X-Rcpt-Args"); got != "<alice@example.org>" {
				t.Errorf("smtp-sink saw RCPT %q", got)
			}
			if got := decodeHeader(ack.Header.Get("Subject")); got != "[#1] Printer on fire" {
				t.Errorf("ack Subject %q", got)
			}
			if got := ack.Header.Get("Auto-Submitted"); got != "auto-replied" {
				t.Errorf("ack Auto-Submitted %q", got)
			}
			if got, want := ack.Header.Get("In-Reply-To"), "<"+show.Messages[0].MessageID+">"; got != want {
				t.Errorf("ack In-Reply-To %q, want %q", got, want)
			}
			replyTo, err := mail.ParseAddress(ack.Header.Get("Reply-To"))
			if err != nil {
				t.Fatalf("ack Reply-To %q: %v", ack.Header.Get("Reply-To"), err)
			}
			ackID := threading.CleanMessageID(ack.Header.Get("Message-ID"))

			// Alice replies from her client: to the Reply-To, In-Reply-To the ack.
			out, err = exec.Command(swaks, "--server", inst.smtp, "--to", replyTo.Address, "--from", "alice@example.org",
				"--header", "Subject: Re: [#1] Printer on fire", "--header", "In-Reply-To: <"+ackID+">",
				"--body", "Still burning.").CombinedOutput()
			if err != nil {
				t.Fatalf("swaks reply: %v\n%s", err, out)
			}
			waitFor(t, "the reply on ticket 1", 15*time.Second, func() bool {
				inst.cliJSON(&show, "ticket", "show", "1")
				return len(show.Messages) == 2
			})
			if !strings.Contains(show.Messages[1].Text, "Still burning.") {
				t.Errorf("reply text %q", show.Messages[1].Text)
			}
			if n := len(inst.tickets()); n != 1 {
				t.Errorf("%d tickets after the reply, want 1", n)
			}
		})
	}
}
