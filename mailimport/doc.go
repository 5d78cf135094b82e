// Package mailimport brings an existing support mailbox into mxdesk: it reads mbox
// files, Maildir folders and directories of .eml files, and hands their messages, oldest
// first, to ingest's archive mode (see docs/import.md).
//
// The readers stream: an mbox of gigabytes is read one message at a time through a
// bufio.Reader (a bufio.Scanner stops at its 64 KiB token limit, and real mail has longer
// lines), and only a small index entry per message is kept. It must not send mail or
// change tickets itself: ingest and the ticket service do that.
package mailimport
