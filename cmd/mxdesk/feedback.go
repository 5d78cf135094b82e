package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mxdesk/mxdesk/api"
	"github.com/mxdesk/mxdesk/store"
)

// cmdFeedback: `feedback report`, the same report as GET /api/v1/feedback with an
// admin token.
func cmdFeedback(ctx context.Context, cfgPath string, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "report" {
		return usageError{"want 'feedback report [--since 30d] [--until T] [--team T] [--agent EMAIL] [--json]'"}
	}
	fs := flag.NewFlagSet("feedback report", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	since := fs.String("since", "30d", "start: RFC 3339 time or a duration back from now (30d, 12h)")
	until := fs.String("until", "", "end: RFC 3339 time or a duration back from now (default now)")
	team := fs.String("team", "", "one team's ratings")
	agent := fs.String("agent", "", "the ratings of tickets this agent (address) replied on")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("unexpected %q", pos[0])}
	}
	now := time.Now().UTC()
	from, err := api.ParseTime(*since, now)
	if err != nil {
		return usageError{"--since: " + err.Error()}
	}
	to := now
	if *until != "" {
		if to, err = api.ParseTime(*until, now); err != nil {
			return usageError{"--until: " + err.Error()}
		}
	}
	_, st, err := openConfigured(ctx, cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	q := store.FeedbackQuery{Scope: store.Scope{All: true}, Since: &from, Until: &to, Agent: strings.ToLower(*agent)}
	if *team != "" {
		if q.TeamID, err = store.TeamByName(ctx, st.DB, *team); errors.Is(err, store.ErrNotFound) {
			return usageError{fmt.Sprintf("--team: no team %q", *team)}
		} else if err != nil {
			return err
		}
	}
	rows, err := st.QueryFeedback(ctx, q)
	if err != nil {
		return err
	}
	rep := api.BuildFeedbackReport(rows, from, to)
	if *asJSON {
		return writeJSON(stdout, rep)
	}
	fmt.Fprintf(stdout, "Feedback %s to %s\n\n", rep.Since.Format(time.RFC3339), rep.Until.Format(time.RFC3339))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	line := func(what, name string, s api.Summary) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%.0f%%\t%v\n", what, name, s.Count, s.Average, s.Positive*100, s.Stars)
	}
	fmt.Fprintln(tw, "\t\tRATINGS\tAVERAGE\t4-5 STARS\t1..5 STARS")
	line("all", "", rep.Summary)
	for _, g := range rep.Teams {
		line("team", g.Name, g.Summary)
	}
	for _, g := range rep.Agents {
		line("agent", g.Name, g.Summary)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var comments []api.Rating
	for _, r := range rep.Ratings {
		if r.Comment != "" {
			comments = append(comments, r)
		}
	}
	if len(comments) > 0 {
		fmt.Fprintln(stdout, "\nComments:")
		for _, r := range comments {
			fmt.Fprintf(stdout, "  #%d (%d stars, %s): %s\n", r.TicketID, r.Rating, r.Team.Name, r.Comment)
		}
	}
	return nil
}
