package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// postfixRelay is the README's "behind Postfix" recipe, as Postfix configuration lines:
// the support domain relayed to mxdesk with transport_maps.
func postfixRelay(mxdesk string) string {
	return fmt.Sprintf(`mydestination =
relay_domains = example.com
transport_maps = inline:{ example.com=smtp:[%s]:%s }
`, hostOf(mxdesk), portOf(mxdesk))
}

func hostOf(addr string) string { h, _, _ := net.SplitHostPort(addr); return h }
func portOf(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }

// startPostfix runs a throwaway Postfix instance on listen that relays example.com to
// mxdesk, retrying deferred mail every second. It is stopped when the test ends.
func startPostfix(t *testing.T, listen, mxdesk string) (dir string) {
	t.Helper()
	postfix := needPeer(t, "postfix")
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("a Postfix instance needs root (CI runs as root)")
		}
		t.Skip("a throwaway Postfix instance needs root; skipping")
	}
	if _, err := user.Lookup("postfix"); err != nil {
		t.Fatalf("the postfix user is missing: %v", err)
	}
	// Postfix's daemons run as postfix and must reach the queue: not under t.TempDir().
	dir, err := os.MkdirTemp("", "mxdesk-postfix")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	etc := filepath.Join(dir, "etc")
	for _, d := range []string{etc, filepath.Join(dir, "spool"), filepath.Join(dir, "data")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("chown", "postfix", filepath.Join(dir, "data")).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	mainCf := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/spool
data_directory = %[1]s/data
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
command_directory = /usr/sbin
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = %[1]s
maillog_file = %[1]s/maillog
myhostname = relay.example.net
mydomain = example.net
myorigin = example.net
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
biff = no
# Retry deferred mail every second, so the test sees the retry without waiting minutes.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
transport_retry_time = 1s
smtp_connect_timeout = 2s
%[2]s`, dir, postfixRelay(mxdesk))
	if err := os.WriteFile(filepath.Join(etc, "main.cf"), []byte(mainCf), 0o644); err != nil {
		t.Fatal(err)
	}
	// master.cf: Debian's, without chroot, the public smtpd on our port.
	deb, err := os.ReadFile("/etc/postfix/master.cf")
	if err != nil {
		t.Fatalf("Debian's master.cf: %v", err)
	}
	var master strings.Builder
	for _, line := range strings.Split(string(deb), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || strings.HasPrefix(line, "#") || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		switch f[0] {
		case "maildrop", "uucp", "ifmail", "bsmtp", "scalemail-backend", "mailman":
			continue
		}
		if f[0] == "smtp" && f[1] == "inet" {
			f[0] = listen
		}
		f[4] = "n"
		master.WriteString(strings.Join(f, " ") + "\n")
	}
	if err := os.WriteFile(filepath.Join(etc, "master.cf"), []byte(master.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"check"}, {"start"}} {
		if out, err := exec.Command(postfix, append([]string{"-c", etc}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("postfix %v: %v\n%s", args, err, out)
		}
	}
	t.Cleanup(func() {
		exec.Command(postfix, "-c", etc, "stop").Run()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "maillog"))
			t.Logf("postfix maillog:\n%s", log)
		}
		os.RemoveAll(dir)
	})
	waitFor(t, "postfix to listen", 20*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", listen, 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return dir
}

// TestBehindPostfix: a real Postfix relays the support domain to mxdesk (the README's
// recipe); swaks sends through it and the ticket appears. Then mxdesk stops, a second
// mail goes to Postfix, which defers it; mxdesk starts again and Postfix's retry
// delivers it: nothing is lost.
func TestBehindPostfix(t *testing.T) {
	swaks := needPeer(t, "swaks")
	inst := newInstance(t, "sqlite:"+filepath.Join(t.TempDir(), "x.db"), "", "")
	inst.start()
	listen := freePort(t)
	dir := startPostfix(t, listen, inst.smtp)
	sendVia := func(subject string) {
		out, err := exec.Command(swaks, "--server", listen, "--to", "support@example.com", "--from", "alice@example.org",
			"--header", "Subject: "+subject, "--body", "Sent through Postfix.").CombinedOutput()
		if err != nil {
			t.Fatalf("swaks through postfix: %v\n%s", err, out)
		}
	}
	hasTicket := func(subject string) func() bool {
		return func() bool {
			for _, tk := range inst.tickets() {
				if tk.Subject == subject {
					return true
				}
			}
			return false
		}
	}
	sendVia("Through the relay")
	waitFor(t, "the ticket of the relayed mail", 60*time.Second, hasTicket("Through the relay"))

	if err := inst.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("serve stop: %v", err)
	}
	sendVia("While mxdesk was down")
	waitFor(t, "postfix to defer the mail", 30*time.Second, func() bool {
		log, _ := os.ReadFile(filepath.Join(dir, "maillog"))
		return strings.Contains(string(log), "status=deferred")
	})
	inst.start()
	waitFor(t, "postfix's retry to deliver", 60*time.Second, hasTicket("While mxdesk was down"))
	log, _ := os.ReadFile(filepath.Join(dir, "maillog"))
	if n := strings.Count(string(log), "status=sent"); n != 2 {
		t.Errorf("postfix logged %d deliveries, want 2", n)
	}
}
