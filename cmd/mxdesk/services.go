package main

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mxdesk/mxdesk/config"
	"github.com/mxdesk/mxdesk/ingest"
	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/resolver"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/threading"
	"github.com/mxdesk/mxdesk/ticket"
)

// services are mxdesk's parts wired from one configuration. serve and `jobs run` both
// build them here, so a mail queued from the CLI is exactly the mail serve would queue.
type services struct {
	secret   []byte
	signer   *threading.Signer
	composer *outbound.Composer
	resolver *resolver.Resolver
	router   *ingest.Router
	worker   *outbound.Worker
	links    *ticket.Links
	tickets  *ticket.Service
	ingester *ingest.Ingester
}

func buildServices(cfg *config.Config, st *store.Store, reg prometheus.Registerer, log *slog.Logger) (*services, error) {
	sla, err := slaFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	s := &services{}
	if s.secret, err = loadSecret(cfg.DataDir); err != nil {
		return nil, err
	}
	s.signer = threading.NewSigner(s.secret)
	s.composer, err = outbound.NewComposer(outbound.ComposerConfig{
		Domain: cfg.Domain, From: cfg.Outbound.From, TemplatesDir: cfg.Outbound.TemplatesDir,
		DefaultLanguage: cfg.Outbound.DefaultLanguage,
		Brand:           outbound.Brand{Name: cfg.Brand.Name, LogoURL: cfg.Brand.LogoURL, Color: cfg.Brand.Color},
	})
	if err != nil {
		return nil, err
	}
	var dkimKey *outbound.DKIMKey
	if cfg.Outbound.DKIMKey != "" {
		if dkimKey, err = outbound.LoadDKIMKey(cfg.Outbound.DKIMKey, cfg.Domain, cfg.Outbound.DKIMSelector); err != nil {
			return nil, err
		}
	}
	// One resolver for every DNS question mxdesk asks ([dns] server).
	if s.resolver, err = resolver.New(resolver.Config{Server: cfg.DNS.Server, Timeout: cfg.DNS.Timeout.Duration}); err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	s.router = ingest.NewRouter(cfg.Mailboxes, s.signer)
	s.worker = outbound.NewWorker(st, outbound.WorkerConfig{
		Relay: cfg.Outbound.Relay, Hostname: cfg.SMTP.Hostname, RetryMax: cfg.Outbound.RetryMax.Duration,
		RetrySchedule: cfg.Outbound.RetrySchedule.Std(), Username: cfg.Outbound.RelayUsername,
		Password: cfg.Outbound.RelayPassword, DKIM: dkimKey, Metrics: outbound.NewMetrics(reg, st),
		Resolver: s.resolver, NotFound: resolver.IsNotFound,
	}, log)
	s.links = ticket.NewLinks(s.secret, cfg.Portal.BaseURL)
	s.tickets = ticket.New(st, ticket.Config{
		Composer: s.composer, Signer: s.signer, Links: s.links, MaxAutoPerHour: cfg.Outbound.MaxAutoPerHour,
		SLA: sla, Own: s.router.Own, ReopenWindow: cfg.Tickets.ReopenWindow.Duration,
	}, log)
	s.ingester = ingest.New(st, ingest.Config{
		Resolve: s.router.Resolve, Own: s.router.Own, Tickets: s.tickets,
		TrustedDomains: cfg.TrustedUnauthenticatedDomains,
	}, log)
	return s, nil
}
