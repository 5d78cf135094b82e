package store

import (
	"errors"
	"os"
	"syscall"
)

// dataSync makes f's contents durable with fdatasync, as SQLite does for its own log on
// Linux: the data, and of the metadata only what reading it back needs (its size).
// fsync would also write the file's new modification time, a journal commit of the
// filesystem that waits behind every other file's pending writes (the checkpointer's,
// the log's). SQLite's log is overwritten in place once it has reached its size, so
// most syncs need no journal commit at all.
func dataSync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fdatasync(int(fd))
			if !errors.Is(serr, syscall.EINTR) {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}
