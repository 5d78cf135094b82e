-- The loop guard's count (store/outbox.go, loopGuardCounted) names the recipient, the
-- window's start, and which rows count: automatic mail not held back. The index of 0005
-- put status between the recipient and created_at, and the planner answered the status
-- list by reading every entry of the recipient in the window and the heap row behind
-- each, suppressed or not. A mail loop, which is when the guard matters, is exactly an
-- address with thousands of suppressed rows, so every message of the loop paid for all
-- the earlier ones. The index now holds the counted rows only: the count reads at most
-- the guard's limit of entries per recipient. Its predicate is the query's text, word
-- for word, so that both databases can prove the query implies it.
DROP INDEX IF EXISTS outbox_loop_guard;
CREATE INDEX outbox_loop_guard ON outbox(rcpt_to, created_at)
  WHERE automatic = TRUE AND status IN ('pending', 'sending', 'sent', 'failed', 'bounced');
