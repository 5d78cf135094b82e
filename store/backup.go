package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrBackupPostgres is Backup's answer on PostgreSQL, whose own tools copy a live
// database consistently (and mxdesk keeps attachments and raw mail in it, so pg_dump is
// the whole backup).
var ErrBackupPostgres = errors.New("the database is PostgreSQL: back it up with pg_dump (e.g. pg_dump -Fc -f mxdesk.dump DBNAME); attachments and raw messages are in it")

// Backup writes a consistent copy of a SQLite database to path while others read and
// write it: VACUUM INTO copies one read transaction's snapshot, compacted, into a new
// file. The copy is made under a temporary name beside path and linked into place only
// when complete, so an interrupted backup never leaves a half file under the real name,
// and an existing file is never overwritten.
func (s *Store) Backup(ctx context.Context, path string) (int64, error) {
	if s.Dialect != SQLite {
		return 0, ErrBackupPostgres
	}
	if _, err := os.Lstat(path); err == nil {
		return 0, fmt.Errorf("backup %s: the file exists; not overwriting it", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("backup %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return 0, fmt.Errorf("backup %s: %w", path, err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	os.Remove(tmpName) // VACUUM INTO refuses a file that exists, even an empty one
	defer os.Remove(tmpName)
	if _, err := s.DB.ExecContext(ctx, "VACUUM INTO ?", tmpName); err != nil {
		return 0, fmt.Errorf("backup %s: %w", path, err)
	}
	if err := syncFile(tmpName); err != nil {
		return 0, fmt.Errorf("backup %s: %w", path, err)
	}
	if err := os.Link(tmpName, path); err != nil {
		return 0, fmt.Errorf("backup %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("backup %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync() // the new name survives a crash too; best effort on odd filesystems
		d.Close()
	}
	return fi.Size(), nil
}

func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
