//go:build !linux

package store

import "os"

// dataSync makes f's contents durable; fdatasync is Linux's (datasync_linux.go).
func dataSync(f *os.File) error { return f.Sync() }
