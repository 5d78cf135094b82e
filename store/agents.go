package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Agent is a user who answers tickets by email.
type Agent struct {
	ID        int64     `db:"id" json:"id"`
	Email     string    `db:"email" json:"email"`
	Name      string    `db:"name" json:"name"`
	TeamID    *int64    `db:"team_id" json:"-"`
	Team      string    `db:"team" json:"team"`
	CreatedAt time.Time `db:"created_at" json:"created_at"`
}

const agentSelect = `SELECT u.id, u.email, u.name, u.team_id, COALESCE(t.name, '') AS team, u.created_at
	FROM users u LEFT JOIN teams t ON t.id = u.team_id`

// UpsertAgent creates the agent or updates name and team, and returns its id. Config
// agents are upserted at every start, so the file stays the source of truth for them.
func UpsertAgent(ctx context.Context, q sqlx.ExtContext, email, name, team string) (int64, error) {
	teamID, err := EnsureTeam(ctx, q, team)
	if err != nil {
		return 0, err
	}
	email = strings.ToLower(strings.TrimSpace(email))
	var id int64
	err = sqlx.GetContext(ctx, q, &id, q.Rebind(`INSERT INTO users (email, name, role, team_id, created_at) VALUES (?, ?, 'agent', ?, ?)
		ON CONFLICT (email) DO UPDATE SET name = excluded.name, team_id = excluded.team_id RETURNING id`), email, name, teamID, now())
	if err != nil {
		return 0, fmt.Errorf("agent %s: %w", email, err)
	}
	return id, nil
}

// AgentByEmail returns the agent with this address, or ErrNotFound.
func AgentByEmail(ctx context.Context, q sqlx.QueryerContext, email string) (*Agent, error) {
	var a Agent
	if err := sqlx.GetContext(ctx, q, &a, rebind(q, agentSelect+" WHERE u.email = ? AND u.role = 'agent'"), strings.ToLower(email)); err != nil {
		return nil, fmt.Errorf("agent %s: %w", email, notFound(err))
	}
	return &a, nil
}

// AgentByID returns the agent with this id.
func AgentByID(ctx context.Context, q sqlx.QueryerContext, id int64) (*Agent, error) {
	var a Agent
	if err := sqlx.GetContext(ctx, q, &a, rebind(q, agentSelect+" WHERE u.id = ?"), id); err != nil {
		return nil, fmt.Errorf("agent %d: %w", id, notFound(err))
	}
	return &a, nil
}

// AgentsOfTeam returns the agents of a team, by name.
func AgentsOfTeam(ctx context.Context, q sqlx.QueryerContext, teamID int64) ([]Agent, error) {
	b := batchOf(ctx)
	if b != nil {
		if out, ok := b.agents[teamID]; ok {
			return out, nil
		}
	}
	var out []Agent
	if err := sqlx.SelectContext(ctx, q, &out, rebind(q, agentSelect+" WHERE u.team_id = ? AND u.role = 'agent' ORDER BY u.name, u.email"), teamID); err != nil {
		return nil, fmt.Errorf("team %d: agents: %w", teamID, err)
	}
	if b != nil {
		b.agents[teamID] = out
	}
	return out, nil
}

// ListAgents returns every agent.
func (s *Store) ListAgents(ctx context.Context) ([]Agent, error) {
	var out []Agent
	if err := s.DB.SelectContext(ctx, &out, agentSelect+" WHERE u.role = 'agent' ORDER BY t.name, u.name, u.email"); err != nil {
		return nil, fmt.Errorf("agents: %w", err)
	}
	return out, nil
}

// TeamByName returns a team's id, or ErrNotFound.
func TeamByName(ctx context.Context, q sqlx.QueryerContext, name string) (int64, error) {
	var id int64
	if err := sqlx.GetContext(ctx, q, &id, rebind(q, "SELECT id FROM teams WHERE LOWER(name) = LOWER(?)"), name); err != nil {
		return 0, fmt.Errorf("team %s: %w", name, notFound(err))
	}
	return id, nil
}

// EnsureTeam returns the id of the team with this name, creating it if needed.
func EnsureTeam(ctx context.Context, q sqlx.ExtContext, name string) (int64, error) {
	// Teams exist from serve's start on: a read on the hot path, a write only the first time.
	var ids []int64
	if err := sqlx.SelectContext(ctx, q, &ids, q.Rebind(`SELECT id FROM teams WHERE name = ?`), name); err != nil {
		return 0, fmt.Errorf("team %s: %w", name, err)
	}
	if len(ids) == 1 {
		return ids[0], nil
	}
	var id int64
	err := sqlx.GetContext(ctx, q, &id, q.Rebind(`INSERT INTO teams (name, created_at) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id`), name, now())
	if err != nil {
		return 0, fmt.Errorf("team %s: %w", name, err)
	}
	return id, nil
}

// TeamName returns a team's name. Teams are never renamed or deleted, so callers may
// keep the answer.
func TeamName(ctx context.Context, q sqlx.QueryerContext, id int64) (string, error) {
	var name string
	if err := sqlx.GetContext(ctx, q, &name, rebind(q, "SELECT name FROM teams WHERE id = ?"), id); err != nil {
		return "", fmt.Errorf("team %d: %w", id, notFound(err))
	}
	return name, nil
}
