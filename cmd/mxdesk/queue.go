package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
)

func cmdQueue(ctx context.Context, cfgPath string, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"want 'queue inbound', 'queue outbound', 'queue retry [inbound] ID', 'queue retry outbound ID' or 'queue drop outbound ID'"}
	}
	which := args[0]
	if (which == "retry" || which == "drop") && len(args) > 1 && args[1] == "outbound" {
		return cmdQueueOutbound(ctx, cfgPath, which, args[2:], stdout)
	}
	if which == "retry" && len(args) > 1 && args[1] == "inbound" {
		args = append([]string{"retry"}, args[2:]...)
	}
	if which == "retry" {
		return cmdQueueRetry(ctx, cfgPath, args[1:], stdout)
	}
	fs := flag.NewFlagSet("queue "+which, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print JSON")
	status := fs.String("status", "", "only rows with this status")
	limit := fs.Int("limit", 100, "at most this many rows")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	_, st, err := openConfigured(ctx, cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	switch which {
	case "inbound":
		rows, err := st.ListInbound(ctx, *status, *limit)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, rows)
		}
		fmt.Fprintln(tw, "ID\tSTATUS\tRECEIVED\tFROM\tSIZE\tATTEMPTS\tERROR")
		for _, r := range rows {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\n", r.ID, r.Status, r.ReceivedAt.Local().Format("2006-01-02 15:04:05"),
				r.MailFrom, r.Size, r.Attempts, r.Error)
		}
	case "outbound":
		rows, err := st.ListOutbox(ctx, *status, 0, *limit)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, rows)
		}
		fmt.Fprintln(tw, "ID\tSTATUS\tKIND\tTICKET\tTO\tATTEMPTS\tMESSAGE-ID\tERROR")
		for _, r := range rows {
			ticket := "-"
			if r.TicketID != nil {
				ticket = fmt.Sprint(*r.TicketID)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.ID, r.Status, r.Kind, ticket, r.RcptTo, r.Attempts, r.MessageID, r.LastError)
		}
	default:
		return usageError{fmt.Sprintf("unknown queue %q: want inbound or outbound", which)}
	}
	return tw.Flush()
}
