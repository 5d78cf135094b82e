package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestCommandHelpDoesNothingElse: `mxdesk CMD -h` prints that command's usage and exits 0
// without opening (or migrating) a database; a mail admin tries it before anything else.
func TestCommandHelpDoesNothingElse(t *testing.T) {
	tests := []struct {
		args []string
		want []string // lines the help must contain
	}{
		{[]string{"migrate", "-h"}, []string{"migrate   ", "create or upgrade the database schema"}},
		{[]string{"serve", "--help"}, []string{"receive mail over SMTP"}},
		{[]string{"ticket", "list", "-h"}, []string{"ticket list [--json]", "list tickets, newest first", "ticket show N"}},
		{[]string{"queue", "-help"}, []string{"queue inbound", "queue retry outbound ID", "queue drop outbound ID"}},
		{[]string{"jobs", "run", "cleanup", "-h"}, []string{"jobs run NAME", "inbound-retry, outbound-sweep, cleanup"}},
		{[]string{"agent", "add", "--help"}, []string{"agent add EMAIL --team T", "an agent who answers"}},
		{[]string{"import", "mbox", "x.mbox", "-h"}, []string{"import mbox|maildir|eml PATH", "--closed-before DAYS", "resumable"}},
		{[]string{"dkim", "keygen", "--help"}, []string{"dkim keygen --selector S", "never overwrites"}},
		{[]string{"backup", "-h"}, []string{"backup FILE", "pg_dump"}},
		{[]string{"agent", "token", "-h"}, []string{"agent token EMAIL [--name N] [--admin]", "agent token revoke ID"}},
		{[]string{"feedback", "report", "-h"}, []string{"feedback report [--since 30d]", "per team and per agent"}},
		{[]string{"kb", "import", "-h"}, []string{"kb import DIR [--prune]", "kb list [--json]"}},
	}
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("MXDESK_CONFIG", "")
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("help lacks %q:\n%s", w, stdout.String())
				}
			}
			if strings.Contains(stdout.String(), "check-config") {
				t.Errorf("help for %s shows other commands:\n%s", tt.args[0], stdout.String())
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("help created %v in the working directory", entries)
	}
}
