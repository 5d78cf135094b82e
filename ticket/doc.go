// Package ticket is the domain and its one door: every change to a ticket — creating one
// (from mail, the portal, the API, an import), adding a customer's or an agent's message,
// a note, a status, priority, team or assignee change, close, reopen, rating — goes
// through Service, in the caller's transaction. The service decides which notifications a
// change causes and writes them as outbox rows in that same transaction; the store wakes
// the outbound worker when it commits. It composes mail through outbound and never sends
// it. What the rows mean (statuses, priorities, event and message kinds) is named here.
package ticket
