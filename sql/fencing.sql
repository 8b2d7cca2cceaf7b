--
-- fencing: the attempt returned by pgq_consume is a fencing token.  With
-- it, ack/nack/discard/extend succeed only for the holder of that lease;
-- otherwise they return false (NULL for extend) and change nothing.
--
SELECT pgq_create_queue('fe_jobs', max_attempts => 5);

-- A snapshot of every column that a finishing call could change.  locked:
-- locked_until is in the future (a lease, or a nack's retry delay); held: a
-- pgq consumer holds the lease (lease_holder is set).
CREATE TEMP VIEW fe_row AS
SELECT payload, consumed_count, processed_at IS NOT NULL AS finished,
       error_detail, coalesce(locked_until > now(), false) AS locked,
       lease_holder IS NOT NULL AS held
FROM fe_jobs;

-- A stale attempt: consumer A took attempt 1, its lease ran out and
-- consumer B took attempt 2.  A's ack, nack, discard and extend all fail
-- and leave B's lease alone.
SELECT pgq_publish('fe_jobs', '"contested"') AS m \gset
SELECT payload, attempt FROM pgq_consume('fe_jobs', lock_duration => '10 milliseconds');
SELECT pg_sleep(0.05);
SELECT payload, attempt FROM pgq_consume('fe_jobs');
SELECT pgq_ack('fe_jobs', :'m', 1) AS stale_ack;
SELECT pgq_nack('fe_jobs', :'m', 'A failed', attempt => 1) AS stale_nack;
SELECT pgq_discard('fe_jobs', :'m', 'A gave up', attempt => 1) AS stale_discard;
SELECT pgq_extend('fe_jobs', :'m', '1 day', 1) IS NULL AS stale_extend_null;
SELECT * FROM fe_row;

-- An attempt from the future is just as wrong.
SELECT pgq_ack('fe_jobs', :'m', 3) AS future_ack;

-- The holder of attempt 2 can extend its lease; the new end is returned.
SELECT pgq_extend('fe_jobs', :'m', '2 hours', 2) > now() + interval '119 minutes' AS extended;
SELECT locked_until > now() + interval '119 minutes' AS lease_is_two_hours FROM fe_jobs;

-- Its ack wins.
SELECT pgq_ack('fe_jobs', :'m', 2) AS ack;
SELECT * FROM fe_row;

-- Double ack: the second one (fenced or not) is false, nothing changes.
SELECT processed_at AS done_at FROM fe_jobs \gset
SELECT pgq_ack('fe_jobs', :'m', 2) AS second_ack;
SELECT pgq_ack('fe_jobs', :'m') AS second_unfenced_ack;
SELECT pgq_ack_batch('fe_jobs', ARRAY[:'m']::uuid[]) AS batch_acked;

-- Discard or nack after ack: false; the message stays done.
SELECT pgq_discard('fe_jobs', :'m', 'too late', 2) AS discard_after_ack;
SELECT pgq_discard('fe_jobs', :'m', 'too late') AS unfenced_discard_after_ack;
SELECT pgq_nack('fe_jobs', :'m', 'too late', attempt => 2) AS nack_after_ack;
SELECT pgq_nack('fe_jobs', :'m', 'too late') AS unfenced_nack_after_ack;
SELECT pgq_extend('fe_jobs', :'m', '1 hour') IS NULL AS extend_after_ack_null;
SELECT *, (SELECT processed_at = :'done_at' FROM fe_jobs) AS same_done_at FROM fe_row;
DELETE FROM fe_jobs;

-- Ack after nack: the nack ended the lease, so a fenced ack with the same
-- attempt is false and the message stays waiting for its retry.
SELECT pgq_publish('fe_jobs', '"nacked"') AS m \gset
SELECT payload, attempt FROM pgq_consume('fe_jobs');
SELECT pgq_nack('fe_jobs', :'m', 'try later', '1 hour', 1) AS nack;
SELECT pgq_ack('fe_jobs', :'m', 1) AS ack_after_nack;
SELECT pgq_nack('fe_jobs', :'m', 'again', '1 hour', 1) AS second_nack;
SELECT pgq_discard('fe_jobs', :'m', 'gone', 1) AS discard_after_nack;
SELECT pgq_extend('fe_jobs', :'m', '1 hour', 1) IS NULL AS extend_after_nack_null;
SELECT pgq_extend('fe_jobs', :'m', '1 hour') IS NULL AS unfenced_extend_after_nack_null;
SELECT * FROM fe_row;

-- Without an attempt, ack acts on any unfinished message (like the Go
-- library's ack): it finishes the nacked message.
SELECT pgq_ack('fe_jobs', :'m') AS unfenced_ack;
SELECT * FROM fe_row;
DELETE FROM fe_jobs;

-- Ack after discard: false, the message stays dead with its reason.
SELECT pgq_publish('fe_jobs', '"discarded"') AS m \gset
SELECT payload, attempt FROM pgq_consume('fe_jobs');
SELECT pgq_discard('fe_jobs', :'m', 'malformed', 1) AS discard;
SELECT processed_at AS dead_at FROM fe_jobs \gset
SELECT pgq_ack('fe_jobs', :'m', 1) AS ack_after_discard;
SELECT pgq_ack('fe_jobs', :'m') AS unfenced_ack_after_discard;
SELECT pgq_nack('fe_jobs', :'m', 'retry?', attempt => 1) AS nack_after_discard;
SELECT pgq_discard('fe_jobs', :'m', 'twice', 1) AS second_discard;
SELECT *, (SELECT processed_at = :'dead_at' FROM fe_jobs) AS same_dead_at FROM fe_row;
DELETE FROM fe_jobs;

-- A reclaimed lease is fenced off even though no one consumed the message
-- since: the sweep cleared the lease, so attempt 1 no longer holds it.
SELECT pgq_publish('fe_jobs', '"reclaimed"') AS m \gset
SELECT payload, attempt FROM pgq_consume('fe_jobs');
BEGIN;
UPDATE fe_jobs SET locked_until = now() - interval '1 second';  -- the lease runs out
SELECT pgq_reclaim('fe_jobs') AS reclaimed;
COMMIT;
SELECT pgq_ack('fe_jobs', :'m', 1) AS ack_after_reclaim;
SELECT pgq_extend('fe_jobs', :'m', '1 hour', 1) IS NULL AS extend_after_reclaim_null;
SELECT * FROM fe_row;

-- The next consumer gets attempt 2 and it is that one that can finish.
SELECT payload, attempt FROM pgq_consume('fe_jobs');
SELECT pgq_ack('fe_jobs', :'m', 1) AS stale_ack;
SELECT pgq_ack('fe_jobs', :'m', 2) AS ack;
SELECT * FROM fe_row;
DELETE FROM fe_jobs;

-- Without an attempt, extend works on whatever lease is held, and not on
-- a message nobody holds.
SELECT pgq_publish('fe_jobs', '"unheld"') AS m \gset
SELECT pgq_extend('fe_jobs', :'m', '1 hour') IS NULL AS extend_unleased_null;
SELECT payload, attempt FROM pgq_consume('fe_jobs', lock_duration => '1 minute');
SELECT pgq_extend('fe_jobs', :'m', '3 hours') > now() + interval '179 minutes' AS extended;
SELECT * FROM fe_row;

-- Unknown ids change nothing either.
SELECT pgq_ack('fe_jobs', '00000000-0000-0000-0000-000000000000') AS ack_unknown;
SELECT pgq_nack('fe_jobs', '00000000-0000-0000-0000-000000000000') AS nack_unknown;
SELECT pgq_discard('fe_jobs', '00000000-0000-0000-0000-000000000000') AS discard_unknown;
SELECT pgq_extend('fe_jobs', '00000000-0000-0000-0000-000000000000', '1 hour') IS NULL AS extend_unknown_null;

-- Clean up.
DROP VIEW fe_row;
SELECT pgq_drop_queue('fe_jobs');
