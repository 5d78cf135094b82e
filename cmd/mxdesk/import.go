package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/term"

	"github.com/mxdesk/mxdesk/config"
	"github.com/mxdesk/mxdesk/ingest"
	"github.com/mxdesk/mxdesk/mailimport"
	"github.com/mxdesk/mxdesk/store"
)

// cmdImport brings an existing mailbox in (mailimport, ingest's archive mode).
func cmdImport(ctx context.Context, cfgPath string, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("import", flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	mailbox := fset.String("mailbox", "", "the mailbox of messages whose headers name none (default: the first [[mailboxes]])")
	closedDays := fset.Int("closed-before", 14, "tickets whose last message is older than this many days are created Closed")
	format := fset.String("format", "mboxrd", "mbox quoting: mboxrd or mboxo")
	dryRun := fset.Bool("dry-run", false, "read and parse everything, store nothing")
	asJSON := fset.Bool("json", false, "print the summary as JSON")
	pos, err := parseInterspersed(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || (pos[0] != mailimport.KindMbox && pos[0] != mailimport.KindMaildir && pos[0] != mailimport.KindEML) {
		return usageError{"want: import mbox FILE | import maildir DIR | import eml DIR"}
	}
	mf, err := mailimport.ParseMboxFormat(*format)
	if err != nil {
		return usageError{"--format: " + err.Error()}
	}
	if *closedDays < 0 {
		return usageError{"--closed-before: want a number of days >= 0"}
	}
	cfg, st, err := openConfigured(ctx, cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	if *mailbox == "" && len(cfg.Mailboxes) > 0 {
		*mailbox = cfg.Mailboxes[0].Address
	}
	log := newLoggerFormat(stderr, "warn", cfg.Log.Format)
	im, err := newImporter(ctx, cfg, st, *mailbox, log)
	if err != nil {
		return err
	}
	terminal := false
	if f, ok := stderr.(*os.File); ok {
		terminal = term.IsTerminal(int(f.Fd()))
	}
	sum, err := im.Run(ctx, mailimport.Options{
		Kind: pos[0], Path: pos[1], Format: mf, MaxBytes: cfg.SMTP.MaxMessageBytes,
		ClosedBefore: time.Duration(*closedDays) * 24 * time.Hour, DryRun: *dryRun,
		Progress: stderr, Terminal: terminal,
	})
	if sum != nil {
		if *asJSON {
			if jerr := writeJSON(stdout, sum); jerr != nil && err == nil {
				err = jerr
			}
		} else {
			printSummary(stdout, pos[1], sum)
		}
	}
	if err != nil {
		return fmt.Errorf("%w (what was stored stays; run the same command again to go on)", err)
	}
	if sum.Interrupted {
		return fmt.Errorf("interrupted: run the same command again to go on where it stopped")
	}
	return nil
}

// newImporter wires the importer like serve wires ingest, in archive mode.
func newImporter(ctx context.Context, cfg *config.Config, st *store.Store, mailbox string, log *slog.Logger) (*mailimport.Importer, error) {
	for _, team := range cfg.TeamNames() {
		if _, err := store.EnsureTeam(ctx, st.DB, team); err != nil {
			return nil, err
		}
	}
	for _, a := range cfg.Agents {
		if _, err := store.UpsertAgent(ctx, st.DB, a.Email, a.Name, a.Team); err != nil {
			return nil, err
		}
	}
	svc, err := buildServices(cfg, st, prometheus.NewRegistry(), log)
	if err != nil {
		return nil, err
	}
	ing, err := ingest.NewArchive(st, ingest.Config{
		Resolve: svc.router.Resolve, Own: svc.router.Own, Tickets: svc.tickets,
		TrustedDomains: cfg.TrustedUnauthenticatedDomains,
	}, mailbox, log)
	if err != nil {
		return nil, fmt.Errorf("--mailbox: %w", err)
	}
	return mailimport.New(st, ing, svc.tickets, log), nil
}

func printSummary(w io.Writer, path string, s *mailimport.Summary) {
	verb := "imported"
	if s.DryRun {
		verb = "dry run (nothing stored)"
	}
	rate := float64(s.Stored) / max(s.Elapsed.Seconds(), 1e-9)
	fmt.Fprintf(w, "%s %s: %d messages in %s (%.0f msg/s)\n", verb, path, s.Messages, s.Elapsed.Round(time.Millisecond), rate)
	if s.DryRun {
		fmt.Fprintf(w, "  would store        %d (%d with parse warnings, kept as they are)\n", s.Stored, s.ParseWarnings)
	} else {
		fmt.Fprintf(w, "  tickets opened     %d\n  customer replies   %d\n  support side       %d\n", s.Tickets, s.Replies, s.Ours)
		fmt.Fprintf(w, "  closed (old)       %d\n", s.Closed)
	}
	fmt.Fprintf(w, "  already imported   %d\n  duplicates         %d\n  skipped            %d\n  failed             %d\n",
		s.AlreadyImported, s.Duplicates, len(s.Skipped), len(s.Failed))
	for _, sk := range s.Skipped {
		fmt.Fprintf(w, "    skipped %s: %s\n", sk.Source, sk.Reason)
	}
	for _, f := range s.Failed {
		fmt.Fprintf(w, "    failed %s (kept as inbound %d, mxdesk queue inbound --status import_failed): %s\n", f.Source, f.InboundID, f.Error)
	}
}
