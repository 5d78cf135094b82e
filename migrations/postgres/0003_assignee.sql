-- The agent a ticket is assigned to (#assign), and the first agent reply time already
-- lives in tickets.first_responded_at.
ALTER TABLE tickets ADD COLUMN assignee_id BIGINT REFERENCES users(id);
