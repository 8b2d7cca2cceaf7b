--
-- reclaim: expired leases, and pgq_reclaim, the sweep the background
-- worker runs (callable by hand)
--
-- Leases are made to expire by moving locked_until into the past inside a
-- transaction that also runs the sweep, so no other process (such as the
-- background worker) can sweep them first.
--
SELECT pgq_create_queue('rc_jobs', max_attempts => 2);

-- Every message gets metadata naming it, so that the filter can pick it.
SELECT pgq_publish('rc_jobs', '"a"', '{"m": "a"}') AS a \gset
SELECT pgq_publish('rc_jobs', '"b"', '{"m": "b"}') AS b \gset
SELECT pgq_publish('rc_jobs', '"c"', '{"m": "c"}') AS c \gset
SELECT pgq_publish('rc_jobs', '"d"', '{"m": "d"}') AS d \gset
SELECT pgq_publish('rc_jobs', '"e"', '{"m": "e"}') AS e \gset

CREATE TEMP VIEW rc_state AS
SELECT payload, consumed_count, processed_at IS NOT NULL AS finished,
       error_detail, locked_until IS NOT NULL AS locked,
       lease_holder IS NOT NULL AS held
FROM rc_jobs;

-- An expired lease needs no sweep to be delivered again: the next consume
-- takes the message with the next attempt.
BEGIN;
SELECT payload, attempt FROM pgq_consume('rc_jobs', metadata_filter => '{"m": "a"}');
UPDATE rc_jobs SET locked_until = now() - interval '1 second' WHERE id = :'a';
SELECT payload, attempt FROM pgq_consume('rc_jobs', metadata_filter => '{"m": "a"}');
ROLLBACK;

-- The set-up for the sweep:
--   a: leased once, lease expired      -> ready again, lease cleared
--   b: leased twice (= max_attempts), lease expired -> dead
--   c: leased, lease still running     -> untouched
--   d: nacked with a retry delay that has passed -> cleared, not counted
--   e: never consumed                  -> untouched
SELECT payload, attempt FROM pgq_consume('rc_jobs', metadata_filter => '{"m": "a"}');
SELECT payload, attempt FROM pgq_consume('rc_jobs', metadata_filter => '{"m": "b"}');
SELECT pgq_nack('rc_jobs', :'b', 'crashed', retry_after => '0') AS nacked;
SELECT payload, attempt FROM pgq_consume('rc_jobs', metadata_filter => '{"m": "b"}');
SELECT payload, attempt FROM pgq_consume('rc_jobs', metadata_filter => '{"m": "c"}');
SELECT payload, attempt FROM pgq_consume('rc_jobs', metadata_filter => '{"m": "d"}');
SELECT pgq_nack('rc_jobs', :'d', 'busy', retry_after => '1 hour') AS nacked;
SELECT * FROM rc_state ORDER BY payload::text;

-- pgq_reclaim returns how many leases it reclaimed: a and b.
BEGIN;
UPDATE rc_jobs SET locked_until = now() - interval '1 second'
WHERE id IN (:'a', :'b', :'d');
SELECT pgq_reclaim('rc_jobs') AS reclaimed;
COMMIT;
SELECT * FROM rc_state ORDER BY payload::text;

-- Nothing is left to reclaim.
SELECT pgq_reclaim('rc_jobs') AS reclaimed;

-- a and d are delivered again (and e for the first time); b is dead and
-- stays so.
SELECT payload, attempt FROM pgq_consume('rc_jobs', 10) ORDER BY payload::text;

-- max_attempts 0: an expired lease is never turned dead, however often.
SELECT pgq_create_queue('rc_unlimited', max_attempts => 0);
SELECT pgq_publish('rc_unlimited', '"forever"') IS NOT NULL AS published;
UPDATE rc_unlimited SET consumed_count = 99;  -- pretend it was tried 99 times
SELECT payload, attempt FROM pgq_consume('rc_unlimited');
BEGIN;
UPDATE rc_unlimited SET locked_until = now() - interval '1 second';
SELECT pgq_reclaim('rc_unlimited') AS reclaimed;
COMMIT;
SELECT consumed_count, processed_at IS NULL AS unfinished, locked_until IS NULL AS not_locked
FROM rc_unlimited;

-- Without a queue, pgq_reclaim sweeps every queue the caller may update
-- and returns the total: here e's lease in rc_jobs and one in rc_unlimited.
SELECT payload, attempt FROM pgq_consume('rc_unlimited');
BEGIN;
UPDATE rc_jobs SET locked_until = now() - interval '1 second' WHERE id = :'e';
UPDATE rc_unlimited SET locked_until = now() - interval '1 second';
SELECT pgq_reclaim() AS reclaimed;
COMMIT;
SELECT payload, consumed_count, locked_until IS NULL AS not_locked
FROM rc_jobs WHERE id = :'e'
UNION ALL
SELECT payload, consumed_count, locked_until IS NULL FROM rc_unlimited;

-- A lease of a Go-style consumer (locked_until set, no lease_holder) that
-- expired is cleared too, and counted only when it turns dead.
SELECT pgq_create_queue('rc_go', max_attempts => 1);
BEGIN;
INSERT INTO rc_go (payload, metadata, locked_until, consumed_count, started_at)
VALUES ('"go-1"', '{}', now() - interval '1 second', 1, now()),
       ('"go-0"', '{}', now() - interval '1 second', 0, now());
SELECT pgq_reclaim('rc_go') AS reclaimed;
COMMIT;
SELECT payload, consumed_count, processed_at IS NOT NULL AS finished, error_detail,
       locked_until IS NULL AS not_locked
FROM rc_go ORDER BY payload::text;

-- A waiting message whose attempts are used up (here: max_attempts was
-- lowered below what it has already used) can never be delivered again;
-- the sweep makes it dead, so that it shows up as a failure and
-- pgq_requeue can bring it back.
SELECT pgq_create_queue('rc_lowered', max_attempts => 5);
SELECT pgq_publish('rc_lowered', '"tried twice"') AS l \gset
SELECT payload, attempt FROM pgq_consume('rc_lowered');
SELECT pgq_nack('rc_lowered', :'l', 'first', retry_after => '0') AS nacked;
SELECT payload, attempt FROM pgq_consume('rc_lowered');
SELECT pgq_nack('rc_lowered', :'l', 'second', retry_after => '0') AS nacked;
SELECT pgq_reclaim('rc_lowered') AS reclaimed;  -- clears the passed retry delay
SELECT consumed_count, locked_until IS NULL AS not_locked, processed_at IS NULL AS unfinished
FROM rc_lowered;
BEGIN;
SELECT pgq_alter_queue('rc_lowered', max_attempts => 2);
SELECT pgq_reclaim('rc_lowered') IS NOT NULL AS swept;
COMMIT;
SELECT count(*) AS got FROM pgq_consume('rc_lowered');
SELECT consumed_count, processed_at IS NOT NULL AS finished,
       error_detail IS NOT NULL AS has_reason
FROM rc_lowered;
SELECT pgq_requeue('rc_lowered') AS requeued;
SELECT payload, attempt FROM pgq_consume('rc_lowered');

-- Clean up.
DROP VIEW rc_state;
SELECT pgq_drop_queue('rc_jobs');
SELECT pgq_drop_queue('rc_unlimited');
SELECT pgq_drop_queue('rc_go');
SELECT pgq_drop_queue('rc_lowered');
