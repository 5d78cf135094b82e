package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/config"
	"github.com/mxdesk/mxdesk/ingest"
	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
)

// reloader applies a changed configuration file to a running serve on SIGHUP: the TLS
// certificate, the mailboxes, the agents, the templates and the brand. Nothing is
// restarted and no connection is dropped: sessions pick the new values up at their
// next lookup (the certificate at the next handshake). Everything is loaded and
// checked before anything is applied, so a broken file keeps the old configuration
// whole, and the log says why.
type reloader struct {
	cfgPath  string
	st       *store.Store
	router   *ingest.Router
	composer *outbound.Composer
	log      *slog.Logger
	cert     atomic.Pointer[tls.Certificate]
	current  *config.Config // what serve runs with; only the reloading goroutine touches it
	hup      chan os.Signal
}

// newReloader starts catching SIGHUP at once (its default action ends the process);
// run handles them.
func newReloader(cfgPath string, cfg *config.Config, st *store.Store, router *ingest.Router, composer *outbound.Composer, log *slog.Logger) *reloader {
	r := &reloader{cfgPath: cfgPath, st: st, router: router, composer: composer, log: log, current: cfg, hup: make(chan os.Signal, 1)}
	signal.Notify(r.hup, syscall.SIGHUP)
	return r
}

// wrapTLS makes tc serve the reloader's certificate, so a reload replaces it for every
// handshake that follows.
func (r *reloader) wrapTLS(tc *tls.Config) *tls.Config {
	if tc == nil || len(tc.Certificates) == 0 {
		return tc
	}
	r.cert.Store(&tc.Certificates[0])
	tc = tc.Clone()
	tc.Certificates = nil
	tc.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return r.cert.Load(), nil }
	return tc
}

// run reloads on every SIGHUP until ctx ends.
func (r *reloader) run(ctx context.Context) {
	defer signal.Stop(r.hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.hup:
			if err := r.reload(ctx); err != nil {
				r.log.Error("serve: reload failed, keeping the configuration it had", "config", r.cfgPath, "err", err)
			}
		}
	}
}

// reload loads and checks the file, then applies what can change while running.
func (r *reloader) reload(ctx context.Context) error {
	cfg, err := loadConfig(r.cfgPath)
	if err != nil {
		return err
	}
	var cert *tls.Certificate
	if cfg.SMTP.TLSCert != "" {
		c, err := tls.LoadX509KeyPair(cfg.SMTP.TLSCert, cfg.SMTP.TLSKey)
		if err != nil {
			return fmt.Errorf("smtp.tls_cert: %w", err)
		}
		cert = &c
	}
	if (cert == nil) != (r.cert.Load() == nil) {
		return fmt.Errorf("smtp.tls_cert: turning STARTTLS on or off needs a restart")
	}
	// Parse the templates into a throwaway composer first: the real one is replaced only
	// when everything else has loaded too.
	cc := outbound.ComposerConfig{
		Domain: cfg.Domain, From: cfg.Outbound.From, TemplatesDir: cfg.Outbound.TemplatesDir,
		DefaultLanguage: cfg.Outbound.DefaultLanguage,
		Brand:           outbound.Brand{Name: cfg.Brand.Name, LogoURL: cfg.Brand.LogoURL, Color: cfg.Brand.Color},
	}
	if _, err := outbound.NewComposer(cc); err != nil {
		return err
	}
	// Teams and agents go to the database in one transaction, before the mailboxes
	// that route to those teams.
	err = r.st.Tx(ctx, func(tx *sqlx.Tx) error {
		for _, team := range cfg.TeamNames() {
			if _, err := store.EnsureTeam(ctx, tx, team); err != nil {
				return err
			}
		}
		for _, a := range cfg.Agents {
			if _, err := store.UpsertAgent(ctx, tx, a.Email, a.Name, a.Team); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("agents: %w", err)
	}
	if err := r.composer.Reload(cc); err != nil {
		return err
	}
	if cert != nil {
		r.cert.Store(cert)
	}
	r.router.SetMailboxes(cfg.Mailboxes)
	for _, key := range restartKeys(r.current, cfg) {
		r.log.Warn("serve: reload: this change takes effect at the next start", "key", key)
	}
	r.current = cfg
	r.log.Info("serve: configuration reloaded", "config", r.cfgPath, "mailboxes", len(cfg.Mailboxes),
		"agents", len(cfg.Agents), "tls", cert != nil)
	return nil
}

// restartKeys names what changed that a reload does not apply.
func restartKeys(old, cfg *config.Config) []string {
	var out []string
	check := func(key string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			out = append(out, key)
		}
	}
	check("database_url", old.DatabaseURL, cfg.DatabaseURL)
	check("data_dir", old.DataDir, cfg.DataDir)
	check("domain", old.Domain, cfg.Domain)
	check("smtp.listen", old.SMTP.Listen, cfg.SMTP.Listen)
	check("smtp.tls_listen", old.SMTP.TLSListen, cfg.SMTP.TLSListen)
	check("portal", old.Portal, cfg.Portal)
	check("metrics", old.Metrics, cfg.Metrics)
	check("outbound.relay", old.Outbound.Relay, cfg.Outbound.Relay)
	check("outbound.dkim_key", old.Outbound.DKIMKey, cfg.Outbound.DKIMKey)
	check("jobs", old.Jobs, cfg.Jobs)
	check("feedback.options", old.Feedback.Options, cfg.Feedback.Options)
	check("log", old.Log, cfg.Log)
	check("log_level", old.LogLevel, cfg.LogLevel)
	oldDomains, newDomains := mailboxDomains(old), mailboxDomains(cfg)
	for d := range newDomains {
		if !oldDomains[d] {
			out = append(out, "mailboxes (a new domain "+d+": SMTP accepts it after a restart)")
		}
	}
	return out
}

func mailboxDomains(cfg *config.Config) map[string]bool {
	out := map[string]bool{}
	for _, mb := range cfg.Mailboxes {
		if at := strings.LastIndexByte(mb.Address, '@'); at >= 0 {
			out[strings.ToLower(mb.Address[at+1:])] = true
		}
	}
	return out
}
