package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runCLI runs one command in-process against cfg and returns its stdout.
func runCLI(t *testing.T, cfg string, wantCode int, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"--config", cfg}, args...), &stdout, &stderr); code != wantCode {
		t.Fatalf("mxdesk %v: exit %d, want %d; stderr %s", args, code, wantCode, stderr.String())
	}
	return stdout.String()
}

func TestAnAgentTokenIsShownOnceListedWithoutItsSecretAndRevoked(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mxdesk.toml")
	if err := os.WriteFile(cfg, []byte("data_dir = "+`"`+filepath.Join(dir, "data")+`"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MXDESK_CONFIG", "")
	runCLI(t, cfg, 0, "agent", "add", "ana@example.com", "--team", "Support", "--name", "Ana")
	out := runCLI(t, cfg, 0, "agent", "token", "ana@example.com", "--name", "dashboard")
	tok := regexp.MustCompile(`mxd_[A-Za-z0-9_-]{43}`).FindString(out)
	if tok == "" || !strings.Contains(out, "team Support") {
		t.Fatalf("agent token printed no token:\n%s", out)
	}
	runCLI(t, cfg, 0, "agent", "token", "ana@example.com", "--admin")
	list := runCLI(t, cfg, 0, "agent", "token", "list", "--json")
	if strings.Contains(list, tok) || strings.Contains(list, tok[4:20]) {
		t.Errorf("token list shows the secret:\n%s", list)
	}
	var tokens []struct {
		ID        int64   `json:"id"`
		Agent     string  `json:"agent"`
		Name      string  `json:"name"`
		Admin     bool    `json:"admin"`
		RevokedAt *string `json:"revoked_at"`
	}
	if err := json.Unmarshal([]byte(list), &tokens); err != nil {
		t.Fatal(err)
	}
	if len(tokens) != 2 || tokens[0].Agent != "ana@example.com" || tokens[0].Name != "dashboard" || tokens[0].Admin || !tokens[1].Admin {
		t.Fatalf("tokens %+v", tokens)
	}
	runCLI(t, cfg, 0, "agent", "token", "revoke", "1")
	if out := runCLI(t, cfg, 0, "agent", "token", "list"); !regexp.MustCompile(`(?m)^1 .*\d{4}-\d\d-\d\dT\S+Z\s*$`).MatchString(out) {
		t.Errorf("revoked token not shown as revoked:\n%s", out)
	}
	runCLI(t, cfg, 1, "agent", "token", "revoke", "99")
	runCLI(t, cfg, 1, "agent", "token", "zed@example.com")
	runCLI(t, cfg, 2, "agent", "token", "revoke", "x")
	if out := runCLI(t, cfg, 0, "feedback", "report", "--since", "7d"); !strings.Contains(out, "RATINGS") {
		t.Errorf("feedback report:\n%s", out)
	}
	runCLI(t, cfg, 2, "feedback", "report", "--since", "last week")
}
