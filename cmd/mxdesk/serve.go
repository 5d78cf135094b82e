package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mxdesk/mxdesk/account"
	"github.com/mxdesk/mxdesk/api"
	"github.com/mxdesk/mxdesk/config"
	"github.com/mxdesk/mxdesk/ingest"
	"github.com/mxdesk/mxdesk/portal"
	"github.com/mxdesk/mxdesk/smtpd"
	"github.com/mxdesk/mxdesk/store"
)

// shutdownGrace is how long open SMTP sessions may run on after SIGTERM.
const shutdownGrace = 20 * time.Second

// wakeIngest is serve's ingester as the inbound-retry job sees it: the job wakes the
// ingest loop, which retries what is due, instead of draining beside it. A second loop
// parsed the same rows as the first and, during a burst, ran while the first held back.
// (`mxdesk jobs run inbound-retry` in another process still drains with its own.)
type wakeIngest struct{ g *ingest.Ingester }

func (w wakeIngest) RunOnce(context.Context) (int, error) {
	w.g.Notify(nil)
	return 0, nil
}

func cmdServe(ctx context.Context, cfgPath string, args []string, stderr io.Writer) error {
	fset := flag.NewFlagSet("serve", flag.ContinueOnError)
	if err := fset.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	log := newLoggerFormat(stderr, cfg.LogLevel, cfg.Log.Format)
	if dbKind(cfg.DatabaseURL) != "postgres" {
		release, err := lockSQLite(cfg.DatabaseURL)
		if err != nil {
			return err
		}
		defer release()
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	// PostgreSQL: the liveness lock other replicas test before resending what this one
	// claimed (store/replica.go).
	if err := st.Register(ctx); err != nil {
		return err
	}
	if st.Dialect == store.SQLite {
		// One process owns a SQLite file: mail a crashed predecessor was sending is ours.
		if n, err := st.ReleaseSending(ctx); err != nil {
			return err
		} else if n > 0 {
			log.Warn("serve: resending mail a previous run left in flight (same Message-IDs)", "count", n)
		}
	}
	for _, team := range cfg.TeamNames() {
		if _, err := store.EnsureTeam(ctx, st.DB, team); err != nil {
			return err
		}
	}
	for _, a := range cfg.Agents {
		if _, err := store.UpsertAgent(ctx, st.DB, a.Email, a.Name, a.Team); err != nil {
			return err
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	svc, err := buildServices(cfg, st, reg, log)
	if err != nil {
		return err
	}
	tickets, ing, worker, router := svc.tickets, svc.ingester, svc.worker, svc.router
	sched, err := newScheduler(cfg, st, tickets, wakeIngest{ing}, worker, reg, log)
	if err != nil {
		return err
	}
	spool := st.NewSpool(ing.Notify)
	ing.YieldTo(spool, ingest.BurstLag)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "mxdesk_ingest_backlog_seconds",
		Help: "How long the oldest spool row waiting for ingest has waited; 0 when ingest has caught up. Up to 10 s is a burst being absorbed, more is ingest falling behind.",
	}, func() float64 { return ing.Backlog().Seconds() }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "mxdesk_smtp_paced_total",
		Help: "MAIL FROM commands that waited for ingest to catch up (backpressure: ingest more than 10 s behind).",
	}, func() float64 { paced, _ := ing.Paced(); return float64(paced) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "mxdesk_smtp_pacing",
		Help: "1 while SMTP sessions wait for ingest before MAIL FROM (ingest fell more than 10 s behind), else 0.",
	}, func() float64 {
		if ing.Pacing() {
			return 1
		}
		return 0
	}))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "mxdesk_spool_batches_redone_total",
		Help: "Spool batches that failed and were committed again row by row (their sessions waited twice); should stay 0.",
	}, func() float64 { return float64(spool.Redone()) }))
	smtpCfg, err := smtpConfig(cfg, svc.resolver, router.Known)
	if err != nil {
		return err
	}
	smtpCfg.Metrics = smtpd.NewMetrics(reg)
	smtpCfg.Admit = ing.Admit
	reload := newReloader(cfgPath, cfg, st, router, svc.composer, log) // SIGHUP (reload.go)
	smtpSrv := smtpd.New(smtpCfg, spool, log)
	accounts := account.New(st, account.Config{
		Composer: svc.composer, BaseURL: cfg.Portal.BaseURL, Brand: svc.composer.Brand().Name,
		MaxAutoPerHour: cfg.Outbound.MaxAutoPerHour, Metrics: account.NewMetrics(reg),
		SessionIdle: cfg.Portal.SessionIdle.Duration, SessionLifetime: cfg.Portal.SessionLifetime.Duration,
	}, log)
	loc, err := time.LoadLocation(cfg.Hours.TimeZone)
	if err != nil {
		return fmt.Errorf("hours.time_zone: %w", err)
	}
	web, err := portal.New(st, tickets, svc.links, svc.composer.Brand(), log,
		portal.WithAccounts(accounts, cfg.Portal.BaseURL), portal.WithTrustedProxies(config.ParseNetworks(cfg.Portal.TrustedProxies)),
		portal.WithTickets(portalTickets(cfg, loc)))
	if err != nil {
		return err
	}
	var mailboxes []api.Mailbox
	for _, m := range cfg.Mailboxes {
		mailboxes = append(mailboxes, api.Mailbox{Address: m.Address, Team: m.Team, Priority: m.Priority})
	}
	agentAPI, err := api.New(api.Config{Store: st, Tickets: tickets, Log: log, Mailboxes: mailboxes,
		RatePerSecond: float64(cfg.API.RatePerMinute) / 60, Burst: cfg.API.Burst})
	if err != nil {
		return err
	}
	reload.attach(smtpSrv, web, accounts)
	web.Mount(api.Prefix+"/", agentAPI)
	web.ConfigureKB(portal.KBOptions{Public: cfg.KB.Public, DefaultLang: cfg.Outbound.DefaultLanguage})

	smtpL, err := net.Listen("tcp", cfg.SMTP.Listen)
	if err != nil {
		return fmt.Errorf("smtp.listen %s: %w", cfg.SMTP.Listen, err)
	}
	webL, err := net.Listen("tcp", cfg.Portal.Listen)
	if err != nil {
		smtpL.Close()
		return fmt.Errorf("portal.listen %s: %w", cfg.Portal.Listen, err)
	}

	// Workers live until the SMTP side has drained, then finish the row in hand.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var wg sync.WaitGroup
	start := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	start(func() { spool.Run(workCtx) })
	start(func() { st.RunCheckpoints(workCtx, log) })
	start(func() { ing.Run(workCtx, time.Minute) })
	start(func() { worker.Run(workCtx) })
	start(func() { sched.Run(workCtx) })
	start(func() { reload.run(workCtx) })
	errc := make(chan error, 4)
	go func() { errc <- smtpSrv.Serve(smtpL) }()
	if cfg.SMTP.TLSListen != "" {
		tlsL, err := net.Listen("tcp", cfg.SMTP.TLSListen)
		if err != nil {
			smtpL.Close()
			webL.Close()
			return fmt.Errorf("smtp.tls_listen %s: %w", cfg.SMTP.TLSListen, err)
		}
		go func() { errc <- smtpSrv.ServeTLS(tlsL) }()
	}
	go func() { errc <- web.Serve(webL) }()
	var metricsSrv *http.Server
	if cfg.Metrics.Listen != "" {
		ml, err := net.Listen("tcp", cfg.Metrics.Listen)
		if err != nil {
			smtpL.Close()
			webL.Close()
			return fmt.Errorf("metrics.listen %s: %w", cfg.Metrics.Listen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		if cfg.Metrics.Pprof {
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := metricsSrv.Serve(ml); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics: %w", err)
			}
		}()
	}

	relay := cfg.Outbound.Relay
	if relay == "" {
		relay = "none: outgoing mail is written to this log"
	}
	log.Info("mxdesk ready", "domain", cfg.Domain, "smtp", smtpL.Addr().String(), "portal", cfg.Portal.BaseURL, "api", cfg.Portal.BaseURL+api.Prefix,
		"database", dbKind(cfg.DatabaseURL), "mailboxes", len(cfg.Mailboxes), "relay", relay)

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("serve: shutting down: no new SMTP sessions; open ones may finish", "grace", shutdownGrace)
	case serveErr = <-errc:
		log.Error("serve: listener failed, shutting down", "err", serveErr)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := smtpSrv.Shutdown(sctx); err != nil {
		log.Warn("serve: smtp shutdown", "err", err)
	}
	spool.Stop()
	if err := web.Shutdown(sctx); err != nil {
		log.Warn("serve: portal shutdown", "err", err)
	}
	if metricsSrv != nil {
		metricsSrv.Shutdown(sctx)
	}
	stopWork()
	wg.Wait()
	log.Info("serve: stopped cleanly")
	return serveErr
}

// loadSecret reads the server secret that signs reply addresses, creating it on first
// start. Losing it invalidates every reply address in customers' mailboxes: back it up.
func loadSecret(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, "secret.key")
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) < 32 {
			return nil, fmt.Errorf("secret %s: %d bytes, want at least 32 (delete it to make a new one, which voids old reply addresses)", path, len(b))
		}
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("secret %s: %w", path, err)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data_dir %s: %w", dataDir, err)
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadSecret(dataDir) // another process made it first
	}
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("secret %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("secret %s: %w", path, err)
	}
	return b, f.Close()
}

// portalTickets is the configuration of the customer's ticket pages: tickets opened in
// the portal go to the first mailbox; attachments are bounded like a mail.
func portalTickets(cfg *config.Config, loc *time.Location) portal.TicketOptions {
	o := portal.TicketOptions{Mailbox: cfg.Mailboxes[0].Address, Team: cfg.Mailboxes[0].Team,
		CustomerPriority: cfg.Portal.CustomerPriority, MaxUpload: cfg.SMTP.MaxMessageBytes, Location: loc}
	for _, r := range cfg.Feedback.Options {
		o.RateOptions = append(o.RateOptions, portal.RateOption{Stars: r.Stars, EN: r.EN, DE: r.DE})
	}
	for _, t := range cfg.Templates {
		pt := portal.Template{Name: t.Name, About: t.About, Body: t.Body}
		for _, f := range t.Fields {
			pt.Fields = append(pt.Fields, portal.TemplateField{Name: f.Name, Label: f.Label, Type: f.Type, Required: f.Required, Options: f.Options})
		}
		o.Templates = append(o.Templates, pt)
	}
	return o
}
