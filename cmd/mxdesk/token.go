package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/mxdesk/mxdesk/api"
	"github.com/mxdesk/mxdesk/store"
)

// cmdAgentToken: `agent token EMAIL [--name N] [--admin]`, `agent token list [--json]`,
// `agent token revoke ID`. A token is printed once; the database keeps its hash only.
func cmdAgentToken(ctx context.Context, cfgPath string, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("agent token", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "", "what the token is for (a script's name)")
	admin := fs.Bool("admin", false, "the token sees every team's tickets")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError{"want 'agent token EMAIL [--name N] [--admin]', 'agent token list' or 'agent token revoke ID'"}
	}
	_, st, err := openConfigured(ctx, cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	switch pos[0] {
	case "list":
		tokens, err := store.ListAPITokens(ctx, st.DB)
		if err != nil {
			return err
		}
		if *asJSON {
			if tokens == nil {
				tokens = []store.APIToken{}
			}
			return writeJSON(stdout, tokens)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tAGENT\tTEAM\tNAME\tSCOPE\tCREATED\tLAST USED\tREVOKED")
		for _, t := range tokens {
			scope := "team"
			if t.Admin {
				scope = "admin"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Email, t.Team, t.Name, scope,
				t.CreatedAt.UTC().Format(time.RFC3339), fmtTime(t.LastUsedAt), fmtTime(t.RevokedAt))
		}
		return tw.Flush()
	case "revoke":
		if len(pos) != 2 {
			return usageError{"want 'agent token revoke ID' (the ID 'agent token list' shows)"}
		}
		id, err := strconv.ParseInt(pos[1], 10, 64)
		if err != nil {
			return usageError{fmt.Sprintf("%q is not a token id", pos[1])}
		}
		if err := store.RevokeAPIToken(ctx, st.DB, id); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no token %d ('agent token list' shows them)", id)
		} else if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "token %d revoked: requests with it get 401 from now on\n", id)
		return nil
	}
	if len(pos) != 1 {
		return usageError{"want 'agent token EMAIL [--name N] [--admin]'"}
	}
	agent, err := store.AgentByEmail(ctx, st.DB, pos[0])
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s is not an agent ('agent add' first)", pos[0])
	}
	if err != nil {
		return err
	}
	if agent.TeamID == nil && !*admin {
		return fmt.Errorf("%s has no team, so a team token would see nothing: give the agent a team or use --admin", agent.Email)
	}
	tok, hash, err := api.NewToken()
	if err != nil {
		return err
	}
	t := &store.APIToken{UserID: agent.ID, Name: *name, Hash: hash, Admin: *admin}
	if err := store.InsertAPIToken(ctx, st.DB, t); err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, map[string]any{"id": t.ID, "agent": agent.Email, "admin": *admin, "token": tok})
	}
	scope := "the tickets of team " + agent.Team
	if *admin {
		scope = "every team's tickets"
	}
	fmt.Fprintf(stdout, "token %d for %s (%s):\n\n  %s\n\nIt is shown only now; mxdesk keeps its hash. Send it as 'Authorization: Bearer TOKEN'.\n",
		t.ID, agent.Email, scope, tok)
	return nil
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
