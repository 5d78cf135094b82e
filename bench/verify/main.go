// Command verify reads an mxdesk database after a bench, crash or soak run and says
// whether anything was lost or doubled. It only reads. It writes its own SQL, outside
// store, on purpose: a check that went through the code it checks would share its bugs.
//
//	verify counts -db URL                       print row counts as JSON
//	verify wait   -db URL [-timeout D]          wait until ingest and outbound are idle, print counts
//	verify exact  -db URL -accepted FILE -sink-log FILE
//	        every Message-ID the client got 250 for is exactly one stored message; every
//	        acknowledgement in the outbox reached the sink, duplicates counted separately
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/mxdesk/mxdesk/store"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: verify counts|wait|exact -db URL [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	db := fs.String("db", "", "database URL (sqlite:PATH or postgres://…)")
	timeout := fs.Duration("timeout", 5*time.Minute, "wait: give up after this long")
	accepted := fs.String("accepted", "", "exact: file of accepted Message-IDs, one a line")
	sinkLog := fs.String("sink-log", "", "exact: the sink's log (loadgen sink)")
	leasedOK := fs.Bool("leased-ok", false, "outbox rows left 'sending' by a killed process are waiting for their lease (PostgreSQL): do not wait for them, report them")
	_ = fs.Parse(os.Args[2:])
	ctx := context.Background()
	st, err := store.Open(ctx, *db)
	if err != nil {
		fail(err)
	}
	defer st.Close()
	switch os.Args[1] {
	case "counts":
		c, err := count(ctx, st)
		if err != nil {
			fail(err)
		}
		printJSON(c)
	case "wait":
		c, err := wait(ctx, st, *timeout, *leasedOK)
		printJSON(c)
		if err != nil {
			fail(err)
		}
	case "exact":
		ok, err := exact(ctx, st, *accepted, *sinkLog, *leasedOK)
		if err != nil {
			fail(err)
		}
		if !ok {
			os.Exit(1)
		}
	default:
		fail(fmt.Errorf("unknown command %q", os.Args[1]))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "verify:", err)
	os.Exit(1)
}

func printJSON(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

// Counts are the rows that matter for "nothing lost".
type Counts struct {
	Tickets       int64 `json:"tickets"`
	MessagesIn    int64 `json:"messages_in"`
	Inbound       int64 `json:"inbound"`
	InboundNew    int64 `json:"inbound_new"`
	InboundFailed int64 `json:"inbound_failed"`
	InboundDup    int64 `json:"inbound_duplicate"`
	OutboxPending int64 `json:"outbox_pending"`
	OutboxSending int64 `json:"outbox_sending"`
	OutboxSent    int64 `json:"outbox_sent"`
	OutboxFailed  int64 `json:"outbox_failed"`
}

func count(ctx context.Context, st *store.Store) (Counts, error) {
	var c Counts
	q := func(dst *int64, query string, args ...any) error {
		return st.DB.GetContext(ctx, dst, st.DB.Rebind(query), args...)
	}
	for _, x := range []struct {
		dst   *int64
		query string
		args  []any
	}{
		{&c.Tickets, "SELECT COUNT(*) FROM tickets", nil},
		{&c.MessagesIn, "SELECT COUNT(*) FROM messages WHERE direction = 'in'", nil},
		{&c.Inbound, "SELECT COUNT(*) FROM inbound", nil},
		{&c.InboundNew, "SELECT COUNT(*) FROM inbound WHERE status = 'new'", nil},
		{&c.InboundFailed, "SELECT COUNT(*) FROM inbound WHERE status = 'failed'", nil},
		{&c.InboundDup, "SELECT COUNT(*) FROM inbound WHERE status = 'duplicate'", nil},
		{&c.OutboxPending, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'", nil},
		{&c.OutboxSending, "SELECT COUNT(*) FROM outbox WHERE status = 'sending'", nil},
		{&c.OutboxSent, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'", nil},
		{&c.OutboxFailed, "SELECT COUNT(*) FROM outbox WHERE status = 'failed'", nil},
	} {
		if err := q(x.dst, x.query, x.args...); err != nil {
			return c, fmt.Errorf("%s: %w", x.query, err)
		}
	}
	return c, nil
}

// wait polls until no spool row is new and no outbox row is pending or sending: what
// was accepted has become tickets and their acknowledgements have left.
func wait(ctx context.Context, st *store.Store, timeout time.Duration, leasedOK bool) (Counts, error) {
	deadline := time.Now().Add(timeout)
	for {
		// Whether anything waits every 50 ms, the full count only once nothing does: the
		// poll is part of what it measures (done/s), and counting every message every
		// 250 ms took the database from the ingest it waits for, and up to 250 ms late.
		busy, err := pending(ctx, st, leasedOK)
		if err == nil && busy && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		c, err := count(ctx, st)
		if err == nil && c.InboundNew == 0 && c.OutboxPending == 0 && (c.OutboxSending == 0 || leasedOK) {
			// Each COUNT is its own snapshot: the tickets were counted before the spool
			// was, so count again now that nothing moves.
			return count(ctx, st)
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("not idle after %s: %d spool rows new, %d outbox rows pending, %d sending",
					timeout, c.InboundNew, c.OutboxPending, c.OutboxSending)
			}
			return c, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pending reports whether a spool row is still new or an outbox row still to send
// (sending too, unless leasedOK). It asks whether one exists rather than how many: a
// count read every waiting row's index entry, thousands during a burst, twenty times a
// second, and took that from the ingest it waits for.
func pending(ctx context.Context, st *store.Store, leasedOK bool) (bool, error) {
	unsent := "status IN ('pending', 'sending')"
	if leasedOK {
		unsent = "status = 'pending'"
	}
	var busy bool
	err := st.DB.GetContext(ctx, &busy, `SELECT EXISTS (SELECT 1 FROM inbound WHERE status = 'new')
		OR EXISTS (SELECT 1 FROM outbox WHERE `+unsent+`)`)
	return busy, err
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}

// exact checks the crash run's promises and prints one summary line.
func exact(ctx context.Context, st *store.Store, acceptedPath, sinkPath string, leasedOK bool) (bool, error) {
	accepted, err := readLines(acceptedPath)
	if err != nil {
		return false, err
	}
	// Stored incoming messages by Message-ID.
	stored := map[string]int{}
	rows, err := st.DB.QueryContext(ctx, "SELECT message_id FROM messages WHERE direction = 'in'")
	if err != nil {
		return false, err
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return false, err
		}
		stored[id]++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}
	var lost, doubled []string
	seen := map[string]bool{}
	for _, id := range accepted {
		if seen[id] {
			continue
		}
		seen[id] = true
		switch n := stored[id]; {
		case n == 0:
			lost = append(lost, id)
		case n > 1:
			doubled = append(doubled, id)
		}
	}
	// Acknowledgements: every outbox row the database holds as sent must have reached
	// the sink; the sink may have it more than once (a kill -9 between the relay's 250
	// and the "sent" commit resends it with the same Message-ID).
	type ob struct{ MessageID, Status string }
	var outbox []ob
	if err := st.DB.SelectContext(ctx, &outbox, "SELECT message_id AS messageid, status FROM outbox WHERE kind = 'acknowledgement'"); err != nil {
		return false, err
	}
	sink := map[string]int{}
	lines, err := readLines(sinkPath)
	if err != nil {
		return false, err
	}
	for _, l := range lines {
		id, _, _ := strings.Cut(l, "\t")
		sink[id]++
	}
	var ackMissing, ackDup, ackUnsent []string
	extra, leased, suppressed := 0, 0, 0
	for _, o := range outbox {
		n := sink[o.MessageID]
		if n > 1 {
			ackDup = append(ackDup, o.MessageID)
			extra += n - 1
		}
		switch {
		case leasedOK && o.Status == store.OutboxSending:
			leased++
		case o.Status == store.OutboxSuppressed:
			// The loop guard held it back (too many automatic mails to one address in an
			// hour): by design, never sent.
			suppressed++
		case o.Status != store.OutboxSent:
			ackUnsent = append(ackUnsent, o.MessageID+" ("+o.Status+")")
		case n == 0:
			ackMissing = append(ackMissing, o.MessageID)
		}
	}
	known := map[string]bool{}
	for _, o := range outbox {
		known[o.MessageID] = true
	}
	phantom := 0
	for id := range sink {
		if !known[id] {
			phantom++
		}
	}
	ok := len(lost) == 0 && len(doubled) == 0 && len(ackMissing) == 0 && len(ackUnsent) == 0 && phantom == 0
	fmt.Printf("EXACT accepted=%d stored_once=%d lost=%d doubled=%d acks=%d ack_missing=%d ack_unsent=%d ack_suppressed=%d ack_leased=%d ack_duplicate_ids=%d ack_duplicate_deliveries=%d sink_unknown=%d ok=%v\n",
		len(seen), len(seen)-len(lost)-len(doubled), len(lost), len(doubled), len(outbox), len(ackMissing), len(ackUnsent), suppressed, leased, len(ackDup), extra, phantom, ok)
	show := func(what string, ids []string) {
		sort.Strings(ids)
		for i, id := range ids {
			if i == 10 {
				fmt.Printf("  … and %d more\n", len(ids)-10)
				break
			}
			fmt.Printf("  %s: %s\n", what, id)
		}
	}
	show("lost", lost)
	show("stored twice", doubled)
	show("ack never reached the sink", ackMissing)
	show("ack not sent", ackUnsent)
	show("ack delivered more than once", ackDup)
	return ok, nil
}
