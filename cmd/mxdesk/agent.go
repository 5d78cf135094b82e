package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/mail"
	"text/tabwriter"

	"github.com/mxdesk/mxdesk/store"
)

func cmdAgent(ctx context.Context, cfgPath string, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"want 'agent add EMAIL --team T [--name N]' or 'agent list'"}
	}
	sub, args := args[0], args[1:]
	if sub == "token" {
		return cmdAgentToken(ctx, cfgPath, args, stdout)
	}
	fs := flag.NewFlagSet("agent "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print JSON")
	name := fs.String("name", "", "the agent's name, shown to customers")
	team := fs.String("team", "", "the team whose tickets the agent answers")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	cfg, st, err := openConfigured(ctx, cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "add":
		if len(pos) != 1 {
			return usageError{"want 'agent add EMAIL --team T [--name N]'"}
		}
		addr, err := mail.ParseAddress(pos[0])
		if err != nil {
			return usageError{fmt.Sprintf("%q is not an email address", pos[0])}
		}
		if *team == "" {
			return usageError{"--team is required: the team whose tickets the agent answers"}
		}
		if _, ok := cfg.MailboxFor(addr.Address); ok {
			return usageError{fmt.Sprintf("%s is a mailbox: an agent needs a personal address", addr.Address)}
		}
		n := *name
		if n == "" {
			n = addr.Name
		}
		id, err := store.UpsertAgent(ctx, st.DB, addr.Address, n, *team)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "agent %d: %s (%s), team %s\n", id, addr.Address, n, *team)
		return nil
	case "list":
		agents, err := st.ListAgents(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			if agents == nil {
				agents = []store.Agent{}
			}
			return writeJSON(stdout, agents)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tTEAM")
		for _, a := range agents {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", a.ID, a.Email, a.Name, a.Team)
		}
		return tw.Flush()
	default:
		return usageError{fmt.Sprintf("unknown subcommand %q: want add, list or token", sub)}
	}
}
