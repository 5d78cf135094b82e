package mailimport

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMaildirFilesReadsCurNewAndSubfoldersNeverTmp(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "cur", "1:2,S"), "a")
	write(t, filepath.Join(dir, "new", "2"), "b")
	write(t, filepath.Join(dir, "tmp", "3"), "being delivered")
	write(t, filepath.Join(dir, ".Sent", "cur", "4:2,S"), "c")
	write(t, filepath.Join(dir, ".Sent", "tmp", "5"), "being delivered")
	write(t, filepath.Join(dir, ".notafolder", "x"), "not a maildir")
	write(t, filepath.Join(dir, "cur", ".hidden"), "client state")
	got, err := MaildirFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var rel []string
	for _, f := range got {
		r, _ := filepath.Rel(dir, f)
		rel = append(rel, r)
	}
	slices.Sort(rel)
	want := []string{".Sent/cur/4:2,S", "cur/1:2,S", "new/2"}
	if !slices.Equal(rel, want) {
		t.Errorf("files = %v, want %v", rel, want)
	}
}

func TestMaildirFilesRefusesAPlainDirectory(t *testing.T) {
	_, err := MaildirFiles(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "not a Maildir") {
		t.Errorf("err = %v, want not a Maildir", err)
	}
}

func TestEMLFilesFindsEMLFilesInSubdirectories(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "b.eml"), "x")
	write(t, filepath.Join(dir, "sub", "a.EML"), "x")
	write(t, filepath.Join(dir, "notes.txt"), "x")
	got, err := EMLFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || filepath.Base(got[0]) != "b.eml" || filepath.Base(got[1]) != "a.EML" {
		t.Errorf("files = %v", got)
	}
}

// TestAFileThatVanishesIsSkippedNotFatal: a mail client may move a message between the
// import's two passes; the import says so and goes on.
func TestAFileThatVanishesIsSkippedNotFatal(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "cur", "1"), "Subject: one\n\nx\n")
	write(t, filepath.Join(dir, "cur", "2"), "Subject: two\n\nx\n")
	src, err := openSource(KindMaildir, dir, Mboxrd, 0)
	if err != nil {
		t.Fatal(err)
	}
	entries, skips, err := src.index(nil)
	if err != nil || len(entries) != 2 || len(skips) != 0 {
		t.Fatalf("index: %v, %d entries, %d skipped", err, len(entries), len(skips))
	}
	if err := os.Remove(entries[1].path); err != nil {
		t.Fatal(err)
	}
	if raw, why, err := src.read(&entries[0]); err != nil || why != "" || !strings.Contains(string(raw), "Subject:") {
		t.Errorf("read of the file still there: %q, %q, %v", raw, why, err)
	}
	if _, why, err := src.read(&entries[1]); err != nil || !strings.Contains(why, "vanished") {
		t.Errorf("read of the vanished file: why %q, err %v; want a skip saying it vanished", why, err)
	}
}
