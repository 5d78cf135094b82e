-- One name for mail to the agents' address that was not relayed: messages of kind
-- agent_rejected (a failed command) and agent_refused (not an agent, not authenticated)
-- were the same thing under two names, and so were their events.
UPDATE messages SET kind = 'agent_refused' WHERE kind = 'agent_rejected';
UPDATE events SET kind = 'agent_reply_refused' WHERE kind = 'agent_reply_rejected';
