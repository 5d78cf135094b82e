// Package smtpd is mxdesk's SMTP front door: a go-smtp backend that refuses unknown
// recipients at RCPT, enforces the size limit while the body streams in, and answers
// 250 only after the spool has committed the raw message. It does not parse or thread:
// the raw bytes go to the spool and ingest takes them from there.
package smtpd
