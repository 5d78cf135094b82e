package mailimport

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// MaildirFiles lists the message files of a Maildir and of its Maildir++ sub-folders
// (".Sent", ".Archive.2023", …): what is in cur/ and new/, never tmp/, where a delivery
// agent writes a message before it is complete.
func MaildirFiles(dir string) ([]string, error) {
	if !isMaildir(dir) {
		return nil, fmt.Errorf("%s: not a Maildir (no cur/ or new/ folder)", dir)
	}
	folders := []string{dir}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("maildir %s: %w", dir, err)
	}
	for _, e := range entries {
		sub := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), ".") && e.IsDir() && isMaildir(sub) {
			folders = append(folders, sub)
		}
	}
	var files []string
	for _, f := range folders {
		for _, part := range []string{"cur", "new"} {
			entries, err := os.ReadDir(filepath.Join(f, part))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("maildir %s: %w", f, err)
			}
			for _, e := range entries {
				// Dot files are not messages (some clients keep state there).
				if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
					files = append(files, filepath.Join(f, part, e.Name()))
				}
			}
		}
	}
	return files, nil
}

func isMaildir(dir string) bool {
	for _, part := range []string{"cur", "new"} {
		if fi, err := os.Stat(filepath.Join(dir, part)); err == nil && fi.IsDir() {
			return true
		}
	}
	return false
}

// EMLFiles lists the files named *.eml under dir, in its sub-directories too, in a
// stable order.
func EMLFiles(dir string) ([]string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("eml: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("eml: %s is not a directory", dir)
	}
	var files []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.EqualFold(filepath.Ext(path), ".eml") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eml %s: %w", dir, err)
	}
	slices.Sort(files)
	return files, nil
}
