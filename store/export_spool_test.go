package store

// WrapSpoolSync puts wrap around the fsync the SQLite spool's syncer calls, so a test can
// hold it and look at what the sessions see meanwhile. Call it before Run.
func (sp *Spool) WrapSpoolSync(wrap func(sync func() error) error) {
	sync := sp.sync
	sp.sync = func() error { return wrap(sync) }
}
