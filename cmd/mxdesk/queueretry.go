package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/mxdesk/mxdesk/mailauth"
)

// cmdQueueRetry makes a failed spool row due now; a running serve picks it up at its
// next poll (within a minute), or at once when new mail wakes it.
func cmdQueueRetry(ctx context.Context, cfgPath string, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return usageError{"want 'queue retry ID' (an inbound id from 'queue inbound')"}
	}
	id, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || id <= 0 {
		return usageError{fmt.Sprintf("%q is not an inbound id", args[0])}
	}
	_, st, err := openConfigured(ctx, cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	ok, err := st.RetryInbound(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("inbound %d is not a failed row (see 'mxdesk queue inbound --status failed')", id)
	}
	fmt.Fprintf(stdout, "inbound %d is due again\n", id)
	return nil
}

// authJSON is a message's `auth` in `ticket show --json`: the DKIM, SPF and DMARC
// results, and the domain the message proved it comes from ("" when none).
type authJSON struct {
	DKIM          string `json:"dkim"`
	SPF           string `json:"spf"`
	DMARC         string `json:"dmarc"`
	AlignedDomain string `json:"aligned_domain"`
	Policy        string `json:"dmarc_policy,omitempty"`
	Quarantine    bool   `json:"quarantine,omitempty"`
}

func toAuthJSON(stored string) *authJSON {
	r := mailauth.Parse(stored)
	if r == nil {
		return nil
	}
	return &authJSON{DKIM: r.DKIM, SPF: r.SPF, DMARC: r.DMARC, AlignedDomain: r.AlignedDomain, Policy: r.Policy, Quarantine: r.Quarantine}
}
