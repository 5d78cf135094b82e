package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// FeedbackRow is a rating with what the report around it needs: the ticket's team, the
// option the customer clicked, and the agents who answered the ticket.
type FeedbackRow struct {
	ID        int64     `db:"id"`
	TicketID  int64     `db:"ticket_id"`
	Rating    int       `db:"rating"`
	Comment   string    `db:"comment"`
	CreatedAt time.Time `db:"created_at"`
	TeamID    int64     `db:"team_id"`
	Team      string    `db:"team"`
	Choice    string    `db:"choice"` // "4", "good", …: what the customer clicked or chose
	Agents    []string  `db:"-"`      // addresses of the agents who replied on the ticket
}

// FeedbackQuery narrows QueryFeedback; zero values mean no restriction.
type FeedbackQuery struct {
	Scope  Scope
	Since  *time.Time
	Until  *time.Time
	TeamID int64
	Agent  string // only tickets this agent (address) replied on
}

// QueryFeedback returns the ratings in the scope and period, oldest first.
func (s *Store) QueryFeedback(ctx context.Context, q FeedbackQuery) ([]FeedbackRow, error) {
	cond, args := q.Scope.where()
	if q.Since != nil {
		cond += " AND f.created_at >= ?"
		args = append(args, q.Since.UTC())
	}
	if q.Until != nil {
		cond += " AND f.created_at < ?"
		args = append(args, q.Until.UTC())
	}
	if q.TeamID != 0 {
		cond += " AND t.team_id = ?"
		args = append(args, q.TeamID)
	}
	if q.Agent != "" {
		cond += " AND EXISTS (SELECT 1 FROM events e WHERE e.ticket_id = t.id AND e.kind = 'agent_replied' AND e.actor = ?)"
		args = append(args, q.Agent)
	}
	from := ` FROM feedback f JOIN tickets t ON t.id = f.ticket_id JOIN teams tm ON tm.id = t.team_id WHERE ` + cond
	var rows []FeedbackRow
	err := s.DB.SelectContext(ctx, &rows, s.DB.Rebind(`SELECT f.id, f.ticket_id, f.rating, f.comment, f.choice, f.created_at,
		t.team_id, tm.name AS team`+from+` ORDER BY f.created_at, f.id`), args...)
	if err != nil {
		return nil, fmt.Errorf("feedback: %w", err)
	}
	if len(rows) == 0 {
		return rows, nil
	}
	// The agents who answered, and the option clicked, of the same tickets.
	var evs []struct {
		TicketID int64  `db:"ticket_id"`
		Kind     string `db:"kind"`
		Actor    string `db:"actor"`
		Data     string `db:"data"`
	}
	err = s.DB.SelectContext(ctx, &evs, s.DB.Rebind(`SELECT e.ticket_id, e.kind, e.actor, e.data FROM events e
		WHERE e.kind IN ('agent_replied', 'rated') AND e.ticket_id IN (SELECT f.ticket_id`+from+`) ORDER BY e.id`), args...)
	if err != nil {
		return nil, fmt.Errorf("feedback: agents: %w", err)
	}
	agents := map[int64][]string{}
	choices := map[int64][]string{}
	for _, e := range evs {
		switch e.Kind {
		case "agent_replied":
			if !contains(agents[e.TicketID], e.Actor) {
				agents[e.TicketID] = append(agents[e.TicketID], e.Actor)
			}
		case "rated":
			var d struct {
				Choice string `json:"choice"`
			}
			if json.Unmarshal([]byte(e.Data), &d) == nil {
				choices[e.TicketID] = append(choices[e.TicketID], d.Choice)
			}
		}
	}
	seen := map[int64]int{}
	for i := range rows {
		r := &rows[i]
		r.Agents = agents[r.TicketID]
		// Ratings and rated events of one ticket come in the same order; a rating made
		// in the portal carries its option itself.
		if c := choices[r.TicketID]; r.Choice == "" && seen[r.TicketID] < len(c) {
			r.Choice = c[seen[r.TicketID]]
		}
		seen[r.TicketID]++
	}
	return rows, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
