// Package outbound is the only place mxdesk builds and sends mail. Compose turns a
// notification into a complete RFC 5322 message (text and HTML parts from embedded
// templates, threading headers, Auto-Submitted); the Worker delivers outbox rows to the
// relay, or to the log when no relay is configured, retrying with backoff. Rows are
// written by the change that caused them (ingest, ticket), never sent directly.
package outbound
