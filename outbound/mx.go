package outbound

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/emersion/go-smtp"

	"github.com/mxdesk/mxdesk/store"
)

// RelayMX is the outbound.relay value that delivers straight to each recipient domain's
// MX hosts instead of through a smarthost.
const RelayMX = "mx"

// MXResolver is what direct delivery asks of DNS (the resolver package, which honours
// [dns] server).
type MXResolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// errNullMX is a domain that publishes "MX 0 ." (RFC 7505): it accepts no mail, ever.
var errNullMX = &smtp.SMTPError{Code: 556, EnhancedCode: smtp.EnhancedCode{5, 1, 10},
	Message: "recipient domain publishes a null MX: it accepts no mail"}

// mxHosts returns the hosts to try for a domain, best preference first; a domain without
// MX records is its own mail host (RFC 5321 5.1, the implicit MX).
func (w *Worker) mxHosts(ctx context.Context, domain string) ([]string, error) {
	mxs, err := w.cfg.Resolver.LookupMX(ctx, domain)
	if err != nil {
		if w.cfg.NotFound != nil && w.cfg.NotFound(err) {
			return []string{domain}, nil
		}
		return nil, fmt.Errorf("MX %s: %w", domain, err)
	}
	if len(mxs) == 0 {
		return []string{domain}, nil
	}
	if len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == "") {
		return nil, errNullMX
	}
	slices.SortStableFunc(mxs, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	hosts := make([]string, 0, len(mxs))
	for _, mx := range mxs {
		hosts = append(hosts, strings.TrimSuffix(mx.Host, "."))
	}
	return hosts, nil
}

// sendMX delivers to the recipient domain's MX hosts in order of preference. A host that
// cannot be reached or answers 4xx passes the mail to the next; a 5xx is final. TLS is
// opportunistic (RFC 7435): used when offered, unauthenticated, and a failed handshake is
// retried in clear text rather than not delivering at all.
func (w *Worker) sendMX(ctx context.Context, o *store.Outbox, raw []byte) error {
	at := strings.LastIndexByte(o.RcptTo, '@')
	if at < 0 {
		return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "recipient has no domain: " + o.RcptTo}
	}
	hosts, err := w.mxHosts(ctx, o.RcptTo[at+1:])
	if err != nil {
		return err
	}
	var errs []error
	for _, host := range hosts {
		// Addresses come from the same resolver as the MX records ([dns] server).
		ips, err := w.cfg.Resolver.LookupIPAddr(ctx, host)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", host, err))
			continue
		}
		for _, ip := range ips {
			addr := net.JoinHostPort(ip.IP.String(), strconv.Itoa(w.cfg.MXPort))
			err := w.deliverTo(ctx, addr, host, o, raw, true)
			var tlsErr tlsError
			if errors.As(err, &tlsErr) {
				err = w.deliverTo(ctx, addr, host, o, raw, false)
			}
			if err == nil {
				return nil
			}
			var se *smtp.SMTPError
			if errors.As(err, &se) && se.Code >= 500 {
				return err
			}
			errs = append(errs, fmt.Errorf("%s (%s): %w", host, ip.IP, err))
		}
	}
	return fmt.Errorf("no MX host took the mail: %w", errors.Join(errs...))
}

type tlsError struct{ error }

func (e tlsError) Unwrap() error { return e.error }

// deliverTo runs one SMTP transaction with an MX host.
func (w *Worker) deliverTo(ctx context.Context, addr, host string, o *store.Outbox, raw []byte, tryTLS bool) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c := smtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello(w.cfg.Hostname); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok && tryTLS {
		c.Quit()
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		if dl, ok := ctx.Deadline(); ok {
			conn.SetDeadline(dl)
		}
		// Unauthenticated on purpose: most MX certificates do not match the MX name, and
		// encryption without authentication still beats clear text.
		tc, err := smtp.NewClientStartTLS(conn, &tls.Config{ServerName: host, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
		if err != nil {
			conn.Close()
			return tlsError{fmt.Errorf("STARTTLS: %w", err)}
		}
		c = tc
		defer c.Close()
		if err := c.Hello(w.cfg.Hostname); err != nil {
			return fmt.Errorf("EHLO: %w", err)
		}
	}
	return transact(c, o, raw)
}

// transact is MAIL, RCPT, DATA and QUIT on an open client.
func transact(c *smtp.Client, o *store.Outbox, raw []byte) error {
	if err := c.Mail(o.MailFrom, nil); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(o.RcptTo, nil); err != nil {
		return fmt.Errorf("RCPT TO: %w", err)
	}
	wc, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := wc.Write(raw); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := wc.Close(); err != nil {
		return fmt.Errorf("end of DATA: %w", err)
	}
	_ = c.Quit() // the mail is accepted; a failed QUIT changes nothing
	return nil
}
