// Package ingest turns a spooled raw message into ticket state: parse (enmime), classify
// (auto-reply, bounce, list), ask threading where it belongs, and write the message, its
// attachments, events and outbox rows in one transaction together with the spool row's
// new status. It never sends mail and never answers SMTP; a failure leaves the spool row
// failed, with the raw message intact, for a later retry.
package ingest
