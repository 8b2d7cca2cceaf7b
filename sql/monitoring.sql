--
-- monitoring: what pgq_queue_stats, pgq_in_flight, pgq_failures,
-- pgq_failure_summary, pgq_queue_activity and pgq_report say about a queue
-- after a scripted sequence of publish, consume, ack, nack, discard, extend,
-- lease expiry, reclaim, requeue and purge, and who may see them.
--
-- Counters (published .. deleted) count since server start, per queue; the
-- queues here are created by this file, so their values are exact.  Gauges
-- (ready, dead, done) are kept at commit and valid at once for a queue
-- created since the server started; scheduled, in_flight and expired_leases
-- are read live.  Nothing changes until commit: an aborted transaction or
-- subtransaction counts nothing.
--
-- The background worker sweeps every queue each second.  The part with
-- expiring leases runs in a transaction that holds the queue table in SHARE
-- mode: the worker takes the table lock conditionally and skips the queue,
-- so the expired leases stay until this file reclaims them.
--
\set VERBOSITY sqlstate
\set SHOW_CONTEXT never

SELECT pgq_create_queue('mon_jobs', max_attempts => 2);

-- the numbers of mon_jobs, one line
CREATE VIEW mon_stats AS
SELECT ready, scheduled, in_flight, expired_leases AS expired, dead, done,
	   published AS pub, consumed AS cons, acked, nacked, discarded AS disc,
	   extended AS ext, reclaimed AS recl, expired_dead AS exp_dead,
	   requeued AS req, deleted AS del
FROM pgq_queue_stats WHERE queue = 'mon_jobs'::regclass;

-- the view's comment says which columns are exact when
SELECT obj_description('pgq_queue_stats'::regclass, 'pg_class') ~* 'exact' AS documented;

-- a new queue: every count and counter is zero, nothing is ready or leased
SELECT * FROM mon_stats;
SELECT queue, queue_name, oldest_ready_age, next_lease_expiry,
	   counters_since BETWEEN pg_postmaster_start_time() - interval '1 minute' AND now()
		   AS counters_since_server_start,
	   counts_as_of IS NOT NULL AS gauges_valid
FROM pgq_queue_stats WHERE queue = 'mon_jobs'::regclass;

--
-- publish: six ready messages (metadata n = 1..6, to consume each by name),
-- a batch of two, one scheduled for later
--
SELECT pgq_publish('mon_jobs', '{"n": 1}', '{"n": "1"}') AS m1 \gset
SELECT pgq_publish('mon_jobs', '{"n": 2}', '{"n": "2"}') AS m2 \gset
SELECT pgq_publish('mon_jobs', '{"n": 3}', '{"n": "3"}') AS m3 \gset
SELECT pgq_publish('mon_jobs', '{"n": 4}', '{"n": "4"}') AS m4 \gset
SELECT pgq_publish('mon_jobs', '{"n": 5}', '{"n": "5"}') AS m5 \gset
SELECT pgq_publish('mon_jobs', '{"n": 6}', '{"n": "6"}') AS m6 \gset
SELECT count(*) FROM pgq_publish_batch('mon_jobs', ARRAY['{"n": 7}', '{"n": 8}']::jsonb[], '{"n": "batch"}');
SELECT pgq_publish('mon_jobs', '{"n": 9}', '{"n": "9"}', now() + interval '1 hour') AS m9 \gset
-- 9 published: 8 ready, 1 scheduled
SELECT * FROM mon_stats;
SELECT oldest_ready_age >= interval '0' AS oldest_ready_age_known,
	   next_lease_expiry IS NULL AS no_lease
FROM pgq_queue_stats WHERE queue = 'mon_jobs'::regclass;

--
-- an aborted transaction changes no count and no counter
--
BEGIN;
SELECT pgq_publish('mon_jobs', '{"n": "rolled back"}') IS NOT NULL AS published;
SELECT count(*) FROM pgq_publish_batch('mon_jobs', ARRAY['{"n": "x"}', '{"n": "y"}']::jsonb[]);
SELECT id = :'m1' AS is_m1, attempt FROM pgq_consume('mon_jobs');
SELECT pgq_ack('mon_jobs', :'m1', 1);
SELECT pgq_discard('mon_jobs', :'m9');
ROLLBACK;
SELECT * FROM mon_stats;
SELECT consumed_count, processed_at IS NULL AS unfinished FROM mon_jobs WHERE id = :'m1';

-- a subtransaction counts only if it is kept: one of these two publishes is
BEGIN;
SAVEPOINT kept;
SELECT pgq_publish('mon_jobs', '{"n": 10}', '{"n": "10"}') AS m10 \gset
RELEASE SAVEPOINT kept;
SAVEPOINT undone;
SELECT pgq_publish('mon_jobs', '{"n": "undone"}') IS NOT NULL AS published;
ROLLBACK TO SAVEPOINT undone;
COMMIT;
-- 10 published, 9 ready
SELECT * FROM mon_stats;

--
-- consume and ack: in flight, then done; a second ack counts nothing
--
SELECT id = :'m1' AS is_m1, attempt FROM pgq_consume('mon_jobs', metadata_filter => '{"n": "1"}');
SELECT * FROM mon_stats;
SELECT id = :'m1' AS is_m1, attempt,
	   time_left > interval '59 minutes' AND time_left <= interval '1 hour' AS time_left_ok,
	   locked_until - started_at AS lease,
	   lease_holder LIKE 'pg\_regress%[' || pg_backend_pid() || ']' AS held_by_this_session
FROM pgq_in_flight WHERE queue = 'mon_jobs'::regclass;
SELECT next_lease_expiry = (SELECT locked_until FROM mon_jobs WHERE id = :'m1') AS next_lease_expiry_ok
FROM pgq_queue_stats WHERE queue = 'mon_jobs'::regclass;
SELECT pgq_ack('mon_jobs', :'m1', 1);
SELECT pgq_ack('mon_jobs', :'m1', 1);
SELECT pgq_ack('mon_jobs', :'m1');
SELECT pgq_nack('mon_jobs', :'m1', 'too late');
SELECT pgq_discard('mon_jobs', :'m1', 'too late');
-- 1 done, acked 1
SELECT * FROM mon_stats;
SELECT count(*) AS in_flight_rows FROM pgq_in_flight WHERE queue = 'mon_jobs'::regclass;

--
-- nack with a retry delay: the message waits for its retry (counted in
-- in_flight, not ready), is no pgq lease any more (not in pgq_in_flight),
-- and shows in pgq_failures as retrying
--
SELECT id = :'m2' AS is_m2, attempt FROM pgq_consume('mon_jobs', metadata_filter => '{"n": "2"}');
SELECT pgq_nack('mon_jobs', :'m2', 'boom', retry_after => '1 hour', attempt => 1);
SELECT pgq_ack('mon_jobs', :'m2', 1);
SELECT * FROM mon_stats;
SELECT count(*) AS in_flight_rows FROM pgq_in_flight WHERE queue = 'mon_jobs'::regclass;
SELECT id = :'m2' AS is_m2, attempt, state, error_detail,
	   failed_at = (SELECT started_at FROM mon_jobs WHERE id = :'m2') AS failed_at_is_last_start,
	   retry_at = (SELECT locked_until FROM mon_jobs WHERE id = :'m2') AS retry_at_is_lease_end
FROM pgq_failures WHERE queue = 'mon_jobs'::regclass;

--
-- discard: dead at once
--
SELECT id = :'m3' AS is_m3, attempt FROM pgq_consume('mon_jobs', metadata_filter => '{"n": "3"}');
SELECT pgq_discard('mon_jobs', :'m3', 'bad payload', 1);
SELECT * FROM mon_stats;

--
-- extend: counted once per extended lease; a stale attempt extends nothing
--
SELECT id = :'m4' AS is_m4, attempt FROM pgq_consume('mon_jobs', metadata_filter => '{"n": "4"}');
SELECT pgq_extend('mon_jobs', :'m4', '2 hours', 1) IS NOT NULL AS extended;
SELECT pgq_extend('mon_jobs', :'m4', '3 hours', 2) IS NOT NULL AS extended;
SELECT * FROM mon_stats;
SELECT id = :'m4' AS is_m4, attempt,
	   time_left > interval '1 hour 59 minutes' AND time_left <= interval '2 hours' AS time_left_ok,
	   lease_holder IS NOT NULL AS has_holder
FROM pgq_in_flight WHERE queue = 'mon_jobs'::regclass;

--
-- nack without delay, then out of attempts (max_attempts 2): dead, with
-- the default reason; a nack without an error text keeps none
--
SELECT id = :'m5' AS is_m5, attempt FROM pgq_consume('mon_jobs', metadata_filter => '{"n": "5"}');
SELECT pgq_nack('mon_jobs', :'m5', retry_after => '0', attempt => 1);
SELECT * FROM mon_stats;
SELECT id = :'m5' AS is_m5, attempt FROM pgq_consume('mon_jobs', metadata_filter => '{"n": "5"}');
SELECT pgq_nack('mon_jobs', :'m5', attempt => 2);
SELECT * FROM mon_stats;

--
-- lease expiry, with the worker kept away from the queue (SHARE lock):
-- two leases of one second expire and count as expired_leases; one is
-- taken again by a consumer (attempt 2, not a reclaim) and expires again;
-- pgq_reclaim then makes the other ready (reclaimed) and this one dead
-- (expired_dead, attempts used up)
--
BEGIN;
LOCK TABLE mon_jobs IN SHARE MODE;
SELECT id = :'m6' AS is_m6, attempt FROM pgq_consume('mon_jobs', lock_duration => '1 second', metadata_filter => '{"n": "6"}');
SELECT id AS m7, attempt FROM pgq_consume('mon_jobs', lock_duration => '1 second', metadata_filter => '{"n": "batch"}') \gset
SELECT :attempt AS attempt;
SELECT in_flight, expired_leases FROM pgq_queue_stats WHERE queue = 'mon_jobs'::regclass;
SELECT count(*) AS short_leases FROM pgq_in_flight
WHERE queue = 'mon_jobs'::regclass AND time_left <= interval '1 second';
SELECT pg_sleep(1.2);
-- expired, not reclaimed: no longer in flight
SELECT in_flight, expired_leases FROM pgq_queue_stats WHERE queue = 'mon_jobs'::regclass;
SELECT count(*) AS short_leases FROM pgq_in_flight
WHERE queue = 'mon_jobs'::regclass AND time_left <= interval '1 second';
SELECT id = :'m6' AS is_m6, attempt FROM pgq_consume('mon_jobs', lock_duration => '1 second', metadata_filter => '{"n": "6"}');
SELECT in_flight, expired_leases FROM pgq_queue_stats WHERE queue = 'mon_jobs'::regclass;
SELECT pg_sleep(1.2);
SELECT pgq_ack('mon_jobs', :'m6', 1);
SELECT in_flight, expired_leases FROM pgq_queue_stats WHERE queue = 'mon_jobs'::regclass;
SELECT pgq_reclaim('mon_jobs');
SELECT in_flight, expired_leases FROM pgq_queue_stats WHERE queue = 'mon_jobs'::regclass;
COMMIT;
SELECT * FROM mon_stats;
SELECT id = :'m6' AS is_m6, consumed_count, error_detail FROM mon_jobs
WHERE processed_at IS NOT NULL AND error_detail LIKE 'lease expired%';
SELECT consumed_count, locked_until, lease_holder, processed_at
FROM mon_jobs WHERE id = :'m7';

-- what is failing
SELECT CASE id WHEN :'m2' THEN 'm2' WHEN :'m3' THEN 'm3' WHEN :'m5' THEN 'm5'
			   WHEN :'m6' THEN 'm6' END AS msg,
	   attempt, state, error_detail,
	   (state = 'dead') = (retry_at IS NULL) AS retry_at_only_when_retrying
FROM pgq_failures WHERE queue = 'mon_jobs'::regclass ORDER BY msg;
SELECT error_detail, messages, dead, first_seen <= last_seen AS seen_in_order
FROM pgq_failure_summary WHERE queue = 'mon_jobs'::regclass ORDER BY error_detail;

--
-- requeue: a dead message is ready again (attempts and error reset), no
-- longer a failure; a message that is not dead is not requeued
--
SELECT pgq_requeue('mon_jobs', ARRAY[:'m3']::uuid[]);
SELECT pgq_requeue('mon_jobs', ARRAY[:'m4', :'m1']::uuid[]);
SELECT * FROM mon_stats;
SELECT consumed_count, processed_at, error_detail FROM mon_jobs WHERE id = :'m3';

--
-- ack_batch (unfenced): counts only the messages it finished
--
SELECT pgq_ack_batch('mon_jobs', ARRAY[:'m7', :'m10', :'m1']::uuid[]);
SELECT * FROM mon_stats;

--
-- purge: finished rows deleted, done and dead back to zero
--
SELECT pgq_purge('mon_jobs');
SELECT * FROM mon_stats;
SELECT count(*) AS rows, count(*) FILTER (WHERE processed_at IS NULL) AS unfinished FROM mon_jobs;
-- the oldest ready message (m3, requeued) and the next end of a lease or
-- retry delay (m2's retry, before m4's lease)
SELECT oldest_ready_age BETWEEN now() - (SELECT created_at FROM mon_jobs WHERE id = :'m3')
							AND clock_timestamp() - (SELECT created_at FROM mon_jobs WHERE id = :'m3')
		   AS oldest_ready_age_ok,
	   next_lease_expiry = (SELECT locked_until FROM mon_jobs WHERE id = :'m2') AS next_lease_expiry_ok
FROM pgq_queue_stats WHERE queue = 'mon_jobs'::regclass;
SELECT error_detail, messages, dead
FROM pgq_failure_summary WHERE queue = 'mon_jobs'::regclass ORDER BY error_detail;

--
-- retention '0': an acked message is deleted at once, counted as deleted,
-- never done
--
SELECT pgq_create_queue('mon_zero', retention => '0');
SELECT pgq_publish('mon_zero', '{"n": 1}') AS z1 \gset
SELECT pgq_publish('mon_zero', '{"n": 2}') AS z2 \gset
SELECT id = :'z1' AS is_z1, attempt FROM pgq_consume('mon_zero');
SELECT pgq_ack('mon_zero', :'z1', 1);
SELECT pgq_ack_batch('mon_zero', ARRAY[:'z2']::uuid[]);
SELECT ready, in_flight, dead, done, published, consumed, acked, deleted
FROM pgq_queue_stats WHERE queue = 'mon_zero'::regclass;
SELECT count(*) AS rows FROM mon_zero;

--
-- history: the worker samples every pgq.history_interval (a minute here);
-- a queue without samples has no activity, and its report shows blank
-- sparklines, the state now and the top errors.  The samples the worker
-- may already have taken are deleted first, in a REPEATABLE READ
-- transaction whose snapshot sees no later ones.
--
BEGIN ISOLATION LEVEL REPEATABLE READ;
DELETE FROM pgq_history WHERE queue IN ('mon_jobs'::regclass, 'mon_zero'::regclass);
SELECT count(*) AS samples FROM pgq_queue_history WHERE queue = 'mon_jobs'::regclass;
SELECT * FROM pgq_queue_activity('mon_jobs', now() - interval '1 hour', '1 minute');
SELECT * FROM pgq_queue_activity('mon_jobs');
SELECT regexp_replace(pgq_report('mon_jobs'), 'oldest ready [^\n]*', 'oldest ready <age>') AS report;
SELECT pgq_report('mon_zero', '1 hour') AS report;
ROLLBACK;
SELECT * FROM pgq_queue_activity('mon_jobs', NULL);
SELECT * FROM pgq_queue_activity('mon_jobs', now(), '0');
SELECT pgq_report('mon_jobs', '-1 hour');
SELECT pgq_sparkline(ARRAY[0, 1, 2, 3, 4, 5, 6, 7, NULL, 7]::float8[]) AS sparkline;

--
-- privileges: no view shows a payload; a member of pg_monitor sees every
-- queue's numbers but cannot read a message; a role that may read one
-- queue table sees that queue only; a role without table access sees no
-- row in any view
--
SELECT c.relname AS view, a.attname AS column
FROM pg_depend d
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pgq'
JOIN pg_class c ON c.oid = d.objid AND d.classid = 'pg_class'::regclass AND c.relkind = 'v'
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
WHERE d.deptype = 'e' AND a.attname ~ 'payload|metadata';
SELECT c.relname AS view,
	   has_table_privilege('public', c.oid, 'SELECT') AS public_select,
	   has_table_privilege('pg_monitor', c.oid, 'SELECT') AS monitor_select
FROM pg_depend d
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pgq'
JOIN pg_class c ON c.oid = d.objid AND d.classid = 'pg_class'::regclass
WHERE d.deptype = 'e' AND c.relkind = 'v'
ORDER BY 1;

CREATE ROLE regress_mon_monitor IN ROLE pg_monitor;
CREATE ROLE regress_mon_reader;
CREATE ROLE regress_mon_nobody;
GRANT SELECT ON mon_zero TO regress_mon_reader;
GRANT SELECT ON mon_stats TO regress_mon_monitor;
-- (one history sample of each queue to look at, written as the worker
-- would; the worker may add its own, so only their presence is shown)
INSERT INTO pgq_history (queue, sampled_at, interval_start, published, consumed,
						 acked, nacked, discarded, reclaimed, died, ready,
						 scheduled, in_flight, dead, done, finished)
VALUES ('mon_jobs', now(), now() - interval '1 minute', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
	   ('mon_zero', now(), now() - interval '1 minute', 2, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

SET ROLE regress_mon_monitor;
SELECT * FROM mon_stats;
SELECT queue_name, ready, scheduled, in_flight, dead, done, published, acked
FROM pgq_queue_stats WHERE queue_name LIKE 'mon\_%' ORDER BY 1;
SELECT queue, attempt, lease_holder IS NOT NULL AS has_holder
FROM pgq_in_flight WHERE queue::text LIKE 'mon\_%';
SELECT queue, state, error_detail FROM pgq_failures
WHERE queue::text LIKE 'mon\_%' ORDER BY 1, 3;
SELECT queue, error_detail, messages FROM pgq_failure_summary
WHERE queue::text LIKE 'mon\_%' ORDER BY 1, 2;
SELECT DISTINCT queue FROM pgq_queue_history
WHERE queue::text LIKE 'mon\_%' ORDER BY 1;
SELECT queue FROM pgq_queues WHERE queue::text LIKE 'mon\_%' ORDER BY 1;
SELECT count(*) > 0 AS has_activity FROM pgq_queue_activity('mon_jobs', now() - interval '1 hour', '1 hour');
SELECT payload FROM mon_jobs;
SELECT count(*) FROM mon_jobs;
SELECT count(*) FROM pgq_history;
SELECT * FROM pgq_consume('mon_jobs');
RESET ROLE;

SET ROLE regress_mon_reader;
SELECT queue_name, ready, done, published, acked, deleted
FROM pgq_queue_stats WHERE queue_name LIKE 'mon\_%' ORDER BY 1;
SELECT count(*) AS failures FROM pgq_failures WHERE queue::text LIKE 'mon\_%';
SELECT DISTINCT queue FROM pgq_queue_history WHERE queue::text LIKE 'mon\_%';
SELECT queue FROM pgq_queues WHERE queue::text LIKE 'mon\_%';
RESET ROLE;

SET ROLE regress_mon_nobody;
-- (other tests' queues are left out: only this file's are known here)
SELECT 'pgq_queue_stats' AS view, count(*) FROM pgq_queue_stats WHERE queue::text LIKE 'mon\_%'
UNION ALL SELECT 'pgq_in_flight', count(*) FROM pgq_in_flight WHERE queue::text LIKE 'mon\_%'
UNION ALL SELECT 'pgq_failures', count(*) FROM pgq_failures WHERE queue::text LIKE 'mon\_%'
UNION ALL SELECT 'pgq_failure_summary', count(*) FROM pgq_failure_summary WHERE queue::text LIKE 'mon\_%'
UNION ALL SELECT 'pgq_queue_history', count(*) FROM pgq_queue_history WHERE queue::text LIKE 'mon\_%'
UNION ALL SELECT 'pgq_queues', count(*) FROM pgq_queues WHERE queue::text LIKE 'mon\_%';
SELECT count(*) FROM pgq_queue_activity('mon_jobs', now() - interval '1 hour', '1 minute');
SELECT pgq_report('mon_jobs') ~ 'ready|boom|bad payload' AS report_shows_anything;
SELECT payload FROM mon_jobs;
SELECT count(*) FROM pgq_history;
RESET ROLE;

-- clean up
DELETE FROM pgq_history WHERE queue IN ('mon_jobs'::regclass, 'mon_zero'::regclass);
DROP VIEW mon_stats;
SELECT pgq_drop_queue('mon_jobs');
SELECT pgq_drop_queue('mon_zero');
SELECT count(*) AS history_of_dropped FROM pgq_history h
WHERE NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = h.queue);
DROP ROLE regress_mon_monitor;
DROP ROLE regress_mon_reader;
DROP ROLE regress_mon_nobody;
