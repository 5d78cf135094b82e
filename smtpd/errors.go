package smtpd

import (
	"context"
	"errors"
	"io"

	"github.com/emersion/go-smtp"

	"github.com/mxdesk/mxdesk/store"
)

// The replies mxdesk gives, in one place (RFC 5321 codes, RFC 3463 enhanced codes).
var (
	errUnknownRecipient = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox here"}
	errTooManyRcpts     = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 5, 3}, Message: "Too many recipients"}
	errTooLarge         = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message too big for this system"}
	errShuttingDown     = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Service shutting down, try again later"}
	errTemporary        = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary local problem, try again later"}
	errBadSender        = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 7}, Message: "Malformed sender address"}
	errBadRecipientAddr = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Malformed recipient address"}
	errRelayDenied      = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relaying denied: this server only accepts mail for its own domains"}
	errBareNewline      = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Bare CR or LF in message; lines must end in CRLF (RFC 5321 2.3.8)"}
	errLoop             = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 4, 6}, Message: "Too many Received header fields: mail loop"}
	errDNSTemporary     = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 3}, Message: "Temporary DNS failure while authenticating the sender, try again later"}
	errNeedTLS          = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	errTooManyErrors    = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many errors, closing connection"}
)

func errHeaderTooLarge(msg string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: msg}
}

// errDMARCReject is the answer to a message whose From domain asks for rejection of
// mail that fails DMARC (RFC 7489 7.3: 550 5.7.1 at the end of DATA).
func errDMARCReject(domain string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Rejected by the DMARC policy of " + domain + ": no aligned DKIM or SPF pass"}
}

// reply maps an internal error to what the client is told: temporary or permanent, an
// enhanced status code, and never the internal detail (that goes to the log).
func reply(err error) error {
	var se *smtp.SMTPError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return se
	case errors.Is(err, store.ErrSpoolClosed), errors.Is(err, context.Canceled):
		return errShuttingDown
	case errors.Is(err, io.ErrUnexpectedEOF):
		return err // the client went away; nobody reads the reply
	default:
		return errTemporary
	}
}
