package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnitVerifies runs systemd-analyze verify on contrib/systemd/mxdesk.service,
// with ExecStart pointed at an executable that exists here (verify checks it). Unknown
// keys are only warnings for systemd, so any output about the unit fails the test too.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := needPeer(t, "systemd-analyze")
	unit, err := os.ReadFile("../../contrib/systemd/mxdesk.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"User=mxdesk", "AmbientCapabilities=CAP_NET_BIND_SERVICE", "NoNewPrivileges=true",
		"ProtectSystem=strict", "ReadWritePaths=/var/lib/mxdesk", "PrivateTmp=true", "Restart=on-failure",
		"ExecReload=/bin/kill -HUP $MAINPID", "ExecStart=/usr/local/bin/mxdesk "} {
		if !strings.Contains(string(unit), want+"\n") && !strings.Contains(string(unit), want) {
			t.Errorf("the unit lacks %q", want)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mxdesk.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/mxdesk", self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || strings.Contains(string(out), "mxdesk.service") {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
