package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"syscall"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/account"
	"github.com/mxdesk/mxdesk/config"
	"github.com/mxdesk/mxdesk/ingest"
	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/portal"
	"github.com/mxdesk/mxdesk/smtpd"
	"github.com/mxdesk/mxdesk/store"
)

// reloader applies a changed configuration file to a running serve on SIGHUP: STARTTLS
// (on, off, a new certificate, require_tls), the mailboxes and the domains SMTP accepts
// mail for, the agents, the templates and the brand (mail and portal). Nothing is
// restarted and no connection is dropped: sessions pick the new values up at their
// next lookup (the certificate at the next handshake; STARTTLS itself from the next
// session on). Everything is loaded and checked before anything is applied, so a broken
// file keeps the old configuration whole, and the log says why.
type reloader struct {
	cfgPath  string
	st       *store.Store
	router   *ingest.Router
	composer *outbound.Composer
	log      *slog.Logger
	current  *config.Config // what serve runs with; only the reloading goroutine touches it
	domain   string         // domain as serve started with it: changing it needs a restart
	hup      chan os.Signal
	// What else a reload reaches, set by attach before run starts.
	smtp     *smtpd.Server
	web      *portal.Server
	accounts *account.Service
}

// newReloader starts catching SIGHUP at once (its default action ends the process);
// run handles them.
func newReloader(cfgPath string, cfg *config.Config, st *store.Store, router *ingest.Router, composer *outbound.Composer, log *slog.Logger) *reloader {
	r := &reloader{cfgPath: cfgPath, st: st, router: router, composer: composer, log: log, current: cfg, domain: cfg.Domain, hup: make(chan os.Signal, 1)}
	signal.Notify(r.hup, syscall.SIGHUP)
	return r
}

// attach names the servers a reload changes; call it before run.
func (r *reloader) attach(smtp *smtpd.Server, web *portal.Server, accounts *account.Service) {
	r.smtp, r.web, r.accounts = smtp, web, accounts
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
	r.smtp.SetTLS(cert, cfg.SMTP.RequireTLS)
	// The mailboxes before the domains: a new domain is accepted only once its
	// mailboxes are known.
	r.router.SetMailboxes(cfg.Mailboxes)
	local := *cfg
	local.Domain = r.domain
	r.smtp.SetLocalDomains(localDomains(&local))
	brand := r.composer.Brand()
	r.web.SetBrand(brand)
	r.accounts.SetBrand(brand.Name)
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
	// The portal's policy names the logo's origin, and is made at start.
	check("brand.logo_url (in the portal)", old.Brand.LogoURL, cfg.Brand.LogoURL)
	check("log", old.Log, cfg.Log)
	check("log_level", old.LogLevel, cfg.LogLevel)
	// Of [smtp], a reload applies STARTTLS and require_tls; the rest waits.
	oldSMTP, newSMTP := old.SMTP, cfg.SMTP
	for _, c := range []*config.SMTP{&oldSMTP, &newSMTP} {
		c.TLSCert, c.TLSKey, c.RequireTLS, c.Listen, c.TLSListen = "", "", false, "", ""
	}
	check("smtp (other than tls_cert, tls_key, require_tls)", oldSMTP, newSMTP)
	check("templates", old.Templates, cfg.Templates)
	check("dns", old.DNS, cfg.DNS)
	check("api", old.API, cfg.API)
	check("kb", old.KB, cfg.KB)
	check("tickets", old.Tickets, cfg.Tickets)
	check("hours", old.Hours, cfg.Hours)
	check("sla", old.SLA, cfg.SLA)
	check("feedback", old.Feedback, cfg.Feedback)
	check("trusted_unauthenticated_domains", old.TrustedUnauthenticatedDomains, cfg.TrustedUnauthenticatedDomains)
	return out
}
