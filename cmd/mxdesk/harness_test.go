package main

// The tests in this package start the real mxdesk binary from a config file, speak real
// SMTP to it and read its state with its own CLI, as an operator would.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mxdesk/mxdesk/resolver/dnstest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mxdesk-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "mxdesk")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build mxdesk: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a loopback address nothing listens on right now, for serve to bind a
// moment later. It is picked below Linux's ephemeral range (32768 and up): a port from
// that range, free when looked at, could be the local end of another package's outgoing
// connection (they run beside this one) by the time serve binds it. start moves serve
// to fresh ports should one be taken all the same.
func freePort(t testing.TB) string {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 10000+rand.IntN(10000)))
		if err != nil {
			continue
		}
		defer l.Close()
		return l.Addr().String()
	}
	t.Fatal("no free loopback port in 10000-19999")
	return ""
}

// instance is one running `mxdesk serve`.
type instance struct {
	t       testing.TB
	dir     string
	cfgPath string
	smtp    string
	metrics string // host:port of /metrics
	cmd     *exec.Cmd
	log     *syncBuffer
	exited  chan struct{}
	exitErr error
	// dns is the instance's DNS server on loopback ([dns] server): empty unless a test
	// publishes records, so every lookup gets a fast, real NXDOMAIN and no test asks
	// the machine's resolver.
	dns *dnstest.Server
	// env are extra MXDESK_* variables for serve (keys the extra TOML cannot reach).
	env []string
	// moved maps a listen address serve could not bind to the one start moved it to.
	moved map[string]string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newInstance writes a config for dbURL into a temp dir, with outbound mail going to relay
// (empty: to the log) and extra TOML tables ([[agents]], …) at the end; top-level keys
// go in inst.env. start runs it.
func newInstance(t testing.TB, dbURL, relay, extra string) *instance {
	t.Helper()
	dir := t.TempDir()
	inst := &instance{t: t, dir: dir, cfgPath: filepath.Join(dir, "mxdesk.toml"), smtp: freePort(t), metrics: freePort(t), dns: dnstest.Start(t)}
	cfg := fmt.Sprintf(`domain = "example.com"
database_url = %q
data_dir = %q
log_level = "debug"
[smtp]
listen = %q
hostname = "mx.example.com"
max_message_bytes = 1048576
[[mailboxes]]
address = "support@example.com"
team = "Support"
[[mailboxes]]
address = "billing@example.com"
team = "Billing"
[outbound]
from = "Example Support <support@example.com>"
relay = %q
[portal]
listen = %q
[metrics]
listen = %q
[dns]
server = %q
timeout = "2s"
%s
`, dbURL, filepath.Join(dir, "data"), inst.smtp, relay, freePort(t), inst.metrics, inst.dns.Addr, extra)
	inst.writeConfig(cfg)
	return inst
}

// start runs serve and waits until its SMTP port answers. A port freePort picked can be
// taken by another process (an outgoing connection's ephemeral port) before serve binds
// it; then serve exits naming the address, and start moves every listener to fresh ports
// and tries again.
func (inst *instance) start() {
	t := inst.t
	t.Helper()
	// One cleanup for every attempt: it stops whichever process is the instance's then.
	t.Cleanup(func() {
		inst.stop(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("serve log:\n%s", inst.log.String())
		}
	})
	for attempt := 1; ; attempt++ {
		err := inst.startOnce()
		if err == nil {
			return
		}
		if attempt < 3 && strings.Contains(inst.log.String(), "address already in use") {
			t.Logf("serve could not bind a port picked for it (%v); new ports", err)
			inst.movePorts()
			continue
		}
		t.Fatalf("%v\n%s", err, inst.log.String())
	}
}

func (inst *instance) startOnce() error {
	t := inst.t
	inst.log = &syncBuffer{}
	inst.cmd = exec.Command(binary, "--config", inst.cfgPath, "serve")
	inst.cmd.Env = append(cleanEnv(), inst.env...)
	inst.cmd.Stderr = inst.log
	inst.cmd.Stdout = inst.log
	if err := inst.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	inst.exited = exited
	cmd := inst.cmd
	go func() { inst.exitErr = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", inst.smtp, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("serve exited at start: %v", inst.exitErr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("serve did not listen on %s", inst.smtp)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// movePorts gives every listen address in the config a fresh port, and remembers the
// move so that configs a test wrote from the old file (writeConfig) get it too.
func (inst *instance) movePorts() {
	t := inst.t
	b, err := os.ReadFile(inst.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if inst.moved == nil {
		inst.moved = map[string]string{}
	}
	for _, m := range listenRE.FindAllSubmatch(b, -1) {
		old := string(m[1])
		inst.moved[old] = freePort(t)
		switch old {
		case inst.smtp:
			inst.smtp = inst.moved[old]
		case inst.metrics:
			inst.metrics = inst.moved[old]
		}
	}
	inst.writeConfig(string(b))
}

var listenRE = regexp.MustCompile(`(?m)^listen = "([^"]+)"`)

// writeConfig replaces the config file with s, moving the listen addresses start moved.
func (inst *instance) writeConfig(s string) {
	inst.t.Helper()
	for old, moved := range inst.moved {
		s = strings.ReplaceAll(s, `listen = "`+old+`"`, `listen = "`+moved+`"`)
	}
	if err := os.WriteFile(inst.cfgPath, []byte(s), 0o600); err != nil {
		inst.t.Fatal(err)
	}
}

// stop sends sig and waits for the process; it returns the exit error.
func (inst *instance) stop(sig syscall.Signal) error {
	if inst.cmd == nil || inst.cmd.Process == nil {
		return nil
	}
	select {
	case <-inst.exited:
		return inst.exitErr
	default:
	}
	inst.cmd.Process.Signal(sig)
	select {
	case <-inst.exited:
	case <-time.After(60 * time.Second):
		inst.cmd.Process.Kill()
		<-inst.exited
		inst.t.Errorf("serve did not stop within 60s of %v", sig)
	}
	return inst.exitErr
}

// cleanEnv is the test's environment without MXDESK_ variables that would override the
// config file (a developer's shell may have some).
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MXDESK_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// cli runs an mxdesk command against the instance's config and returns stdout.
func (inst *instance) cli(args ...string) string {
	inst.t.Helper()
	cmd := exec.Command(binary, append([]string{"--config", inst.cfgPath}, args...)...)
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		inst.t.Fatalf("mxdesk %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

// cliJSON runs a command with --json and decodes its output into v.
func (inst *instance) cliJSON(v any, args ...string) {
	inst.t.Helper()
	out := inst.cli(append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		inst.t.Fatalf("mxdesk %v --json: %v\n%s", args, err, out)
	}
}

type ticketOut struct {
	ID        int64  `json:"id"`
	Subject   string `json:"subject"`
	Status    string `json:"status"`
	Priority  string `json:"priority"`
	Team      string `json:"team"`
	Contact   string `json:"contact"`
	Flagged   bool   `json:"flagged"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	Messages  []struct {
		ID          int64    `json:"id"`
		Direction   string   `json:"direction"`
		From        string   `json:"from"`
		To          []string `json:"to"`
		MessageID   string   `json:"message_id"`
		Subject     string   `json:"subject"`
		Text        string   `json:"text"`
		CreatedAt   string   `json:"created_at"`
		Attachments []struct {
			Filename    string `json:"filename"`
			ContentType string `json:"content_type"`
			Size        int64  `json:"size"`
			SHA256      string `json:"sha256"`
		} `json:"attachments"`
	} `json:"messages"`
}

// settled reports whether nothing is in flight: every spool row ingested and no mail
// waiting to be sent. Unless new mail arrives, nothing more can reach the sink after
// that: tests wait for it before they assert that something was not sent.
func (inst *instance) settled() bool {
	var in, out []struct {
		Status string `json:"status"`
	}
	inst.cliJSON(&in, "queue", "inbound")
	inst.cliJSON(&out, "queue", "outbound")
	for _, r := range in {
		if r.Status == "new" || r.Status == "failed" {
			return false
		}
	}
	for _, r := range out {
		if r.Status == "pending" || r.Status == "sending" {
			return false
		}
	}
	return true
}

func (inst *instance) tickets() []ticketOut {
	var out []ticketOut
	inst.cliJSON(&out, "ticket", "list")
	return out
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// send delivers raw over SMTP and returns the server's error, if any.
func send(addr, from string, to []string, raw string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("client.example.org"); err != nil {
		return err
	}
	if err := c.SendMail(from, to, strings.NewReader(raw)); err != nil {
		return err
	}
	return c.Quit()
}
