package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
)

// cmdQueueOutbound is `queue retry outbound ID` (send a failed, deferred or suppressed
// mail now, under its original Message-ID) and `queue drop outbound ID` (never send it).
func cmdQueueOutbound(ctx context.Context, cfgPath, action string, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return usageError{fmt.Sprintf("want 'queue %s outbound ID' (an id from 'queue outbound')", action)}
	}
	id, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || id <= 0 {
		return usageError{fmt.Sprintf("%q is not an outbox id", args[0])}
	}
	_, st, err := openConfigured(ctx, cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	var ok bool
	if action == "retry" {
		ok, err = st.RetryOutbox(ctx, id)
	} else {
		ok, err = st.DropOutbox(ctx, id)
	}
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("outbox %d is not waiting, failed or suppressed (see 'mxdesk queue outbound'): mail already sent or dropped stays as it is", id)
	}
	if action == "retry" {
		fmt.Fprintf(stdout, "outbox %d is due now; a running serve sends it within seconds\n", id)
	} else {
		fmt.Fprintf(stdout, "outbox %d dropped: it will not be sent\n", id)
	}
	return nil
}
