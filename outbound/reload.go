package outbound

// Reload replaces the templates, brand, sender and default language with those of cfg,
// for serve's SIGHUP. Everything is parsed first: a broken template leaves the composer
// as it was and the error names the file. Mail being composed meanwhile finishes with
// the old set.
func (c *Composer) Reload(cfg ComposerConfig) error {
	n, err := NewComposer(cfg)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.domain, c.from, c.brand, c.lang, c.text, c.html = n.domain, n.from, n.brand, n.lang, n.text, n.html
	return nil
}
