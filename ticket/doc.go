// Package ticket is the domain service: it changes tickets (status, ratings) and decides
// which notifications a change causes, writing them as outbox rows in the same
// transaction. Ingest, the portal and the jobs all change tickets through it, so a
// status change notifies the customer the same way whoever made it. It composes mail
// through outbound and never sends it.
package ticket

// Statuses of a ticket: Open -> In Progress (first agent reply) -> Resolved (agent) ->
// Closed (customer, or automatically). A customer reply reopens.
const (
	StatusOpen       = "open"
	StatusInProgress = "in_progress"
	StatusResolved   = "resolved"
	StatusClosed     = "closed"
)

// ValidStatus reports whether s is one of the four statuses.
func ValidStatus(s string) bool {
	switch s {
	case StatusOpen, StatusInProgress, StatusResolved, StatusClosed:
		return true
	}
	return false
}
