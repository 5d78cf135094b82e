// Command mxdesk is the email-first helpdesk gateway: one binary that receives support
// mail over SMTP, turns it into tickets, and sends the acknowledgements. Run
// `mxdesk --help` for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mxdesk/mxdesk/config"
	"github.com/mxdesk/mxdesk/store"
)

const usage = `mxdesk: an email-first helpdesk gateway

Usage:
  mxdesk [--config FILE] COMMAND [flags]

Commands:
  serve                     receive mail over SMTP, ingest it, send notifications
  migrate                   create or upgrade the database schema, then exit
  check-config [--example]  validate the configuration (or print a commented example)
  dns [--json]              the DNS records to publish: MX, SPF, DKIM, DMARC
  agent add EMAIL --team T [--name N]
                            an agent who answers the team's tickets by email
  agent list [--json]       the agents and their teams
  agent token EMAIL [--name N] [--admin]
                            a bearer token for the agent API (/api/v1), printed once;
                            --admin: every team's tickets, else the agent's team's
  agent token list [--json] | agent token revoke ID
                            the API tokens (never the secrets); revoke one at once
  ticket list [--json] [--status S] [--limit N]
                            list tickets, newest first
  ticket show N [--json] [--full]
                            one ticket with its messages as people read them
                            (--full: as received); --json carries text and text_full
  queue inbound [--json] [--status S]
                            the inbound spool (failed rows show their error)
  queue outbound [--json] [--status S]
                            the outbox: mail sent, pending, failed, bounced
  queue retry [inbound] ID  retry a failed inbound spool row now
  queue retry outbound ID   send a deferred, failed or suppressed mail now (same Message-ID)
  queue drop outbound ID    never send that mail
  feedback report [--since 30d] [--until T] [--team T] [--agent EMAIL] [--json]
                            customers' ratings: count, average, share of 4-5 stars,
                            per team and per agent who answered
  jobs [--json]             the background jobs: schedule, next run, last result
  jobs run NAME             run one job now (feedback-requests, auto-close, sla-warnings,
                            inbound-retry, outbound-sweep, cleanup) beside a running serve
  kb import DIR [--prune]   import the knowledge base from Markdown files: new and changed
                            articles written, vanished ones archived (--prune: deleted)
  kb list [--json] [--status S]
                            the knowledge-base articles with views and votes
  import mbox|maildir|eml PATH [--mailbox ADDR] [--closed-before DAYS] [--format mboxrd|mboxo]
                            [--dry-run] [--json]
                            bring an old mailbox in: tickets and replies by original date,
                            no mail sent, old tickets Closed; resumable, a rerun adds nothing
  dkim keygen --selector S [--ed25519] [--out FILE]
                            a new DKIM key (0600, never overwrites) and its DNS record
  backup FILE               a consistent copy of the SQLite database while serve runs
                            (PostgreSQL: use pg_dump)

Configuration:
  --config FILE, or MXDESK_CONFIG=FILE: a TOML file. With neither, mxdesk runs locally:
  SQLite in ./mxdesk-data, SMTP on 127.0.0.1:2525, portal on 127.0.0.1:8080, domain
  localhost, outgoing mail written to the log. Every key can be overridden by an
  environment variable MXDESK_<SECTION>_<KEY>, e.g. MXDESK_SMTP_LISTEN=0.0.0.0:25.
  See 'mxdesk check-config --example' and docs/configuration.md.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// wantsHelp reports whether a command's arguments ask for help (up to a "--").
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// commandHelp is the part of usage that describes cmd: its lines in the command list
// with their continuation lines, or "" for a command usage does not list.
func commandHelp(cmd string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.Split(usage, "\n") {
		switch {
		case strings.HasPrefix(line, "  "+cmd+" ") || line == "  "+cmd:
			in = true
		case strings.HasPrefix(line, strings.Repeat(" ", 20)):
			// a continuation keeps whatever the entry above decided
		default:
			in = false
		}
		if in {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// run is main without the exit, so tests can call it.
func run(args []string, stdout, stderr io.Writer) int {
	global := flag.NewFlagSet("mxdesk", flag.ContinueOnError)
	global.SetOutput(stderr)
	global.Usage = func() {} // printed below: to stdout for --help, to stderr for mistakes
	cfgPath := global.String("config", os.Getenv("MXDESK_CONFIG"), "configuration file (TOML)")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprint(stderr, usage)
		return 2
	}
	rest := global.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := rest[0], rest[1:]
	if wantsHelp(rest) {
		// Before anything opens the database: `mxdesk migrate -h` must not migrate.
		if h := commandHelp(cmd); h != "" {
			fmt.Fprintf(stdout, "Usage of mxdesk %s:\n%s\nmxdesk --help lists every command and the configuration.\n", cmd, h)
			return 0
		}
	}
	// --config is accepted after the command too: `mxdesk serve --config x.toml`.
	rest = extractConfigFlag(rest, cfgPath)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "serve":
		err = cmdServe(ctx, *cfgPath, rest, stderr)
	case "migrate":
		err = cmdMigrate(ctx, *cfgPath, stdout)
	case "check-config":
		err = cmdCheckConfig(*cfgPath, rest, stdout)
	case "ticket":
		err = cmdTicket(ctx, *cfgPath, rest, stdout)
	case "dns":
		err = cmdDNS(ctx, *cfgPath, rest, stdout)
	case "agent":
		err = cmdAgent(ctx, *cfgPath, rest, stdout)
	case "queue":
		err = cmdQueue(ctx, *cfgPath, rest, stdout)
	case "jobs":
		err = cmdJobs(ctx, *cfgPath, rest, stdout, stderr)
	case "import":
		err = cmdImport(ctx, *cfgPath, rest, stdout, stderr)
	case "dkim":
		err = cmdDKIM(ctx, *cfgPath, rest, stdout)
	case "backup":
		err = cmdBackup(ctx, *cfgPath, rest, stdout)
	case "feedback":
		err = cmdFeedback(ctx, *cfgPath, rest, stdout)
	case "kb":
		err = cmdKB(ctx, *cfgPath, rest, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "mxdesk: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "mxdesk %s: %v\n", cmd, err)
			return 2
		}
		fmt.Fprintf(stderr, "mxdesk %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// usageError marks a mistake in the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func extractConfigFlag(args []string, cfgPath *string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--config" || a == "-config":
			if i+1 < len(args) {
				*cfgPath = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "--config="), strings.HasPrefix(a, "-config="):
			*cfgPath = a[strings.IndexByte(a, '=')+1:]
		default:
			out = append(out, a)
		}
	}
	return out
}

// parseInterspersed parses flags that may stand before or after the positional
// arguments (`ticket show 3 --json` as well as `ticket show --json 3`) and returns the
// positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) > 0 {
			pos, args = append(pos, args[0]), args[1:]
		}
	}
	return pos, nil
}

// openConfigured loads the configuration and opens its migrated database: what every
// command that reads or changes state starts with.
func openConfigured(ctx context.Context, cfgPath string) (*config.Config, *store.Store, error) {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, st, nil
}

// loadConfig reads the configuration the same way for every command.
func loadConfig(path string) (*config.Config, error) {
	return config.Load(path, os.Environ())
}

// openStore opens and migrates the configured database: the CLI reads the same database
// as a running serve.
func openStore(ctx context.Context, cfg *config.Config) (*store.Store, error) {
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if _, err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	return newLoggerFormat(w, level, "text")
}

// newLoggerFormat is newLogger with [log] format: "json" writes one object per line.
func newLoggerFormat(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func cmdMigrate(ctx context.Context, cfgPath string, stdout io.Writer) error {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	applied, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "schema is up to date")
		return nil
	}
	fmt.Fprintf(stdout, "applied migrations %v\n", applied)
	return nil
}

func cmdCheckConfig(cfgPath string, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	example := fs.Bool("example", false, "print a commented example configuration")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *example {
		fmt.Fprint(stdout, config.Example())
		return nil
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	src := cfgPath
	if src == "" {
		src = "(no file: defaults and environment)"
	}
	fmt.Fprintf(stdout, "configuration %s is valid: domain %s, database %s, smtp %s, %d mailbox(es)\n",
		src, cfg.Domain, dbKind(cfg.DatabaseURL), cfg.SMTP.Listen, len(cfg.Mailboxes))
	return nil
}

func dbKind(url string) string {
	if strings.HasPrefix(url, "sqlite:") {
		return url
	}
	return "postgres"
}
