package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxdesk/mxdesk/store/storetest"
)

// TestKBImportAndList is an administrator's session: import docs/kb twice, list it, then
// import a directory with a broken file.
func TestKBImportAndList(t *testing.T) {
	for name, mkURL := range storetest.Dialects(t) {
		t.Run(name, func(t *testing.T) {
			t.Setenv("MXDESK_CONFIG", "")
			t.Setenv("MXDESK_DATABASE_URL", mkURL(t))
			t.Setenv("MXDESK_DATA_DIR", t.TempDir())
			cli := func(args ...string) (int, string, string) {
				var stdout, stderr bytes.Buffer
				code := run(args, &stdout, &stderr)
				return code, stdout.String(), stderr.String()
			}
			docs, _ := filepath.Glob(filepath.Join("..", "..", "docs", "kb", "*.md"))
			n := len(docs)
			if code, out, errOut := cli("kb", "import", "../../docs/kb"); code != 0 || out != fmtCounts(n, 0, 0, 0) {
				t.Fatalf("first import: %d %q %q", code, out, errOut)
			}
			if code, out, _ := cli("kb", "import", "../../docs/kb"); code != 0 || out != fmtCounts(0, 0, n, 0) {
				t.Fatalf("second import: %d %q", code, out)
			}
			code, out, _ := cli("kb", "list", "--json")
			var list []map[string]any
			if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list) != n {
				t.Fatalf("kb list --json: %d %v, %d articles", code, err, len(list))
			}
			for _, key := range []string{"slug", "title", "lang", "status", "category", "views", "helpful", "not_helpful"} {
				if _, ok := list[0][key]; !ok {
					t.Errorf("kb list --json lacks %q: %v", key, list[0])
				}
			}
			if _, out, _ := cli("kb", "list"); !strings.Contains(out, "dkim-signing") || !strings.Contains(out, "NOT HELPFUL") {
				t.Errorf("kb list: %s", out)
			}

			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "ok.md"), []byte("---\ntitle: Fine\n---\nbody\n"), 0o644)
			os.WriteFile(filepath.Join(dir, "bad.md"), []byte("---\ntitle: Bad\nstatus: live\n---\n"), 0o644)
			code, out, errOut := cli("kb", "import", dir)
			if want := fmt.Sprintf("1 added, 0 updated, 0 unchanged, %d archived, 1 skipped\n", n); code != 1 || out != want {
				t.Errorf("import with a bad file: %d %q", code, out)
			}
			if !strings.Contains(errOut, `bad.md:3: unknown status "live"`) || !strings.Contains(errOut, "1 file(s) skipped") {
				t.Errorf("stderr: %q", errOut)
			}
			if code, _, errOut := cli("kb", "import", filepath.Join(dir, "nope")); code != 1 || !strings.Contains(errOut, "no such file") {
				t.Errorf("missing dir: %d %q", code, errOut)
			}
			if code, _, _ := cli("kb", "import"); code != 2 {
				t.Errorf("no dir: exit %d, want 2", code)
			}
			if code, _, _ := cli("kb", "frobnicate"); code != 2 {
				t.Errorf("unknown subcommand: exit %d, want 2", code)
			}
		})
	}
}

func fmtCounts(added, updated, unchanged, archived int) string {
	return fmt.Sprintf("%d added, %d updated, %d unchanged, %d archived\n", added, updated, unchanged, archived)
}
