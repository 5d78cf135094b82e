package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/mxdesk/mxdesk/config"
	"github.com/mxdesk/mxdesk/outbound"
)

// dnsRecord is one record `mxdesk dns` asks the administrator to publish.
type dnsRecord struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
	Note  string `json:"note,omitempty"`
}

// dnsRecords derives the records from the configuration: where mail for the domain goes
// (MX), who may send it (SPF), the DKIM key, and the DMARC policy that ties them together.
func dnsRecords(cfg *config.Config) ([]dnsRecord, error) {
	d := strings.TrimSuffix(cfg.Domain, ".")
	spf := "v=spf1 mx -all"
	spfNote := "mail leaves from this host (the MX)"
	if cfg.Outbound.Relay != "" {
		host, _, _ := net.SplitHostPort(cfg.Outbound.Relay)
		switch ip := net.ParseIP(host); {
		case ip == nil:
			spf = "v=spf1 mx a:" + host + " -all"
			spfNote = "mail leaves through the relay " + host + "; if it sends from other public addresses, add them"
		case ip.IsLoopback() || ip.IsPrivate():
			spf = "v=spf1 mx -all"
			spfNote = "the relay " + host + " is internal: add the public addresses it sends from (ip4:/ip6:/include:)"
		case ip.To4() != nil:
			spf = "v=spf1 mx ip4:" + host + " -all"
			spfNote = "mail leaves through the relay " + host
		default:
			spf = "v=spf1 mx ip6:" + host + " -all"
			spfNote = "mail leaves through the relay " + host
		}
	}
	recs := []dnsRecord{
		{Name: d + ".", Type: "MX", Value: "10 " + strings.TrimSuffix(cfg.SMTP.Hostname, ".") + ".",
			Note: "inbound mail for " + d + " reaches mxdesk; " + cfg.SMTP.Hostname + " needs an A/AAAA record for this host"},
		{Name: d + ".", Type: "TXT", Value: spf, Note: spfNote},
	}
	if cfg.Outbound.DKIMKey != "" {
		key, err := outbound.LoadDKIMKey(cfg.Outbound.DKIMKey, d, cfg.Outbound.DKIMSelector)
		if err != nil {
			return nil, err
		}
		txt, err := key.TXTRecord()
		if err != nil {
			return nil, fmt.Errorf("outbound.dkim_key: %w", err)
		}
		recs = append(recs, dnsRecord{Name: key.Name() + ".", Type: "TXT", Value: txt, Note: "the public half of outbound.dkim_key"})
	} else {
		recs = append(recs, dnsRecord{Name: "mx1._domainkey." + d + ".", Type: "TXT", Value: "(no key configured)",
			Note: "outbound mail is unsigned: run `opendkim-genkey -b 2048 -d " + d + " -s mx1`, then set outbound.dkim_key = \"mx1.private\" and outbound.dkim_selector = \"mx1\""})
	}
	recs = append(recs, dnsRecord{Name: "_dmarc." + d + ".", Type: "TXT",
		Value: "v=DMARC1; p=quarantine; adkim=r; aspf=r; rua=mailto:postmaster@" + d,
		Note:  "start with p=none if other systems also send as " + d + ", then tighten"})
	return recs, nil
}

// zoneValue quotes a TXT value for a zone file, split into strings of at most 255
// octets: a 2048-bit DKIM key does not fit in one (RFC 1035 character-string).
func zoneValue(r dnsRecord) string {
	if r.Type != "TXT" {
		return r.Value
	}
	var parts []string
	for v := r.Value; v != ""; {
		n := min(len(v), 255)
		parts = append(parts, `"`+v[:n]+`"`)
		v = v[n:]
	}
	return strings.Join(parts, " ")
}

func cmdDNS(_ context.Context, cfgPath string, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("dns", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	recs, err := dnsRecords(cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, recs)
	}
	fmt.Fprintf(stdout, "; DNS records to publish for %s (mxdesk)\n", cfg.Domain)
	for _, r := range recs {
		fmt.Fprintf(stdout, "\n; %s\n%s\t3600\tIN\t%s\t%s\n", r.Note, r.Name, r.Type, zoneValue(r))
	}
	return nil
}
