package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/mxdesk/mxdesk/kb"
	"github.com/mxdesk/mxdesk/store"
)

// kbListEntry is one line of `kb list --json`.
type kbListEntry struct {
	Slug       string `json:"slug"`
	Title      string `json:"title"`
	Lang       string `json:"lang"`
	Status     string `json:"status"`
	Category   string `json:"category"`
	Views      int64  `json:"views"`
	Helpful    int64  `json:"helpful"`
	NotHelpful int64  `json:"not_helpful"`
}

func cmdKB(ctx context.Context, cfgPath string, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"want 'kb import DIR [--prune]' or 'kb list [--json]'"}
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("kb "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print JSON")
	prune := fs.Bool("prune", false, "delete the articles whose files are gone instead of archiving them")
	status := fs.String("status", "", "only articles with this status")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch sub {
	case "import":
		if len(pos) != 1 {
			return usageError{"want 'kb import DIR [--prune]'"}
		}
	case "list":
		if len(pos) != 0 {
			return usageError{"want 'kb list [--json] [--status S]'"}
		}
	default:
		return usageError{fmt.Sprintf("unknown subcommand %q: want import or list", sub)}
	}
	cfg, st, err := openConfigured(ctx, cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	if sub == "list" {
		return kbList(ctx, st, *status, *asJSON, stdout)
	}
	opt := kb.Options{DefaultLang: cfg.Outbound.DefaultLanguage, Prune: *prune}
	// A progress bar only for a person watching; a script gets the summary line alone.
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		var bar *progressbar.ProgressBar
		opt.Progress = func(done, total int) {
			if bar == nil {
				bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(f), progressbar.OptionSetDescription("importing"),
					progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
			}
			bar.Set(done)
		}
	}
	res, err := kb.Import(ctx, st, pos[0], opt)
	for _, e := range res.Skipped {
		fmt.Fprintf(stderr, "mxdesk kb import: %v\n", e)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res)
	if n := len(res.Skipped); n > 0 {
		return fmt.Errorf("%d file(s) skipped, the rest imported", n)
	}
	return nil
}

func kbList(ctx context.Context, st *store.Store, status string, asJSON bool, stdout io.Writer) error {
	arts, err := store.ListKB(ctx, st.DB, store.KBFilter{Status: status})
	if err != nil {
		return err
	}
	out := []kbListEntry{}
	for _, a := range arts {
		out = append(out, kbListEntry{Slug: a.Slug, Title: a.Title, Lang: a.Lang, Status: a.Status,
			Category: a.Category, Views: a.Views, Helpful: a.Helpful, NotHelpful: a.NotHelpful})
	}
	if asJSON {
		return writeJSON(stdout, out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLUG\tTITLE\tLANG\tSTATUS\tCATEGORY\tVIEWS\tHELPFUL\tNOT HELPFUL")
	for _, a := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n", a.Slug, a.Title, a.Lang, a.Status, a.Category, a.Views, a.Helpful, a.NotHelpful)
	}
	return tw.Flush()
}
