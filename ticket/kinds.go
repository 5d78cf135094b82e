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

// Priorities, most urgent first (Priorities lists them in that order).
const (
	PriorityUrgent = "urgent"
	PriorityHigh   = "high"
	PriorityMedium = "medium"
	PriorityLow    = "low"
)

// ValidPriority reports whether p is one of the four priorities.
func ValidPriority(p string) bool {
	switch p {
	case PriorityUrgent, PriorityHigh, PriorityMedium, PriorityLow:
		return true
	}
	return false
}

// Message kinds: who wrote a message and who may see it. Customers see MsgCustomer and
// MsgAgent; the agents see everything.
const (
	MsgCustomer = "customer" // the contact or a participant
	MsgAuto     = "auto"     // an automatic reply (out-of-office, autoresponder)
	MsgBounce   = "bounce"   // a delivery status notification
	MsgAgent    = "agent"    // an agent's answer, sent to the customer
	MsgNote     = "note"     // an agent's internal note; never leaves
	// MsgAgentRefused is mail to the agents' reply address that was not relayed: not
	// from an agent, not authenticated, or with a command that failed.
	MsgAgentRefused = "agent_refused"
)

// Event kinds, the ticket's history (events.kind).
const (
	EvCreated                = "created"
	EvCustomerReplied        = "customer_replied"
	EvAgentReplied           = "agent_replied"
	EvAgentReplyRefused      = "agent_reply_refused"
	EvNoteAdded              = "note_added"
	EvStatusChanged          = "status_changed"
	EvPriorityChanged        = "priority_changed"
	EvAssigned               = "assigned"
	EvTeamChanged            = "team_changed"
	EvAckSuppressed          = "ack_suppressed"
	EvNotificationSuppressed = "notification_suppressed"
	EvFeedbackRequested      = "feedback_requested"
	EvRated                  = "rated"
	EvDeliveryFailed         = "delivery_failed"
	// EvSLAPrefix is followed by the warning kind (WarnResponse, ...).
	EvSLAPrefix = "sla_"
)

// Sources say where a ticket came from (the created event's data).
const (
	SourceMail   = "mail"
	SourcePortal = "portal"
	SourceAPI    = "api"
	SourceImport = "import"
)
