/* pgq--1.0--1.1.sql: monitoring views, history and reports */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pgq UPDATE TO '1.1'" to load this file. \quit

/*
 * Every view here shows a role the queues whose tables it may read, and
 * every queue to members of pg_monitor; none shows a payload.
 */

-- Live statistics -----------------------------------------------------

CREATE FUNCTION @extschema@.pgq_stats_by_queue(
	OUT queue pg_catalog.regclass,
	OUT queue_name pg_catalog.text,
	OUT ready pg_catalog.int8,
	OUT scheduled pg_catalog.int8,
	OUT in_flight pg_catalog.int8,
	OUT expired_leases pg_catalog.int8,
	OUT dead pg_catalog.int8,
	OUT done pg_catalog.int8,
	OUT oldest_ready_age pg_catalog.interval,
	OUT next_lease_expiry pg_catalog.timestamptz,
	OUT published pg_catalog.int8,
	OUT consumed pg_catalog.int8,
	OUT acked pg_catalog.int8,
	OUT nacked pg_catalog.int8,
	OUT discarded pg_catalog.int8,
	OUT extended pg_catalog.int8,
	OUT reclaimed pg_catalog.int8,
	OUT expired_dead pg_catalog.int8,
	OUT requeued pg_catalog.int8,
	OUT deleted pg_catalog.int8,
	OUT counters_since pg_catalog.timestamptz,
	OUT counts_as_of pg_catalog.timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgq_queue_stats'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pgq_stats_by_queue() IS
	'per-queue statistics behind the pgq_queue_stats view';

CREATE VIEW @extschema@.pgq_queue_stats AS
SELECT * FROM @extschema@.pgq_stats_by_queue();
COMMENT ON VIEW @extschema@.pgq_queue_stats IS
	'one row per queue.  Exact now: scheduled, in_flight (leased or waiting for a nack''s retry delay), expired_leases (pgq leases past their end, not reclaimed yet), oldest_ready_age, next_lease_expiry, read live through the partial indexes.  Exact at commit: ready, dead, done, kept from commit-time deltas since counts_as_of, when the background worker last counted the table (after a restart or detected drift; NULL until then); writes by other clients (e.g. the Go library) are seen at the next count.  Counters since counters_since (server start): published .. deleted; NULL without shared_preload_libraries, where ready/dead/done are counted live';
GRANT SELECT ON @extschema@.pgq_queue_stats TO PUBLIC;

CREATE FUNCTION @extschema@.pgq_in_flight_messages(
	OUT queue pg_catalog.regclass,
	OUT id pg_catalog.uuid,
	OUT attempt pg_catalog.int4,
	OUT started_at pg_catalog.timestamptz,
	OUT locked_until pg_catalog.timestamptz,
	OUT time_left pg_catalog.interval,
	OUT lease_holder pg_catalog.text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgq_in_flight_messages'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pgq_in_flight_messages() IS
	'live pgq leases behind the pgq_in_flight view';

CREATE VIEW @extschema@.pgq_in_flight AS
SELECT * FROM @extschema@.pgq_in_flight_messages();
COMMENT ON VIEW @extschema@.pgq_in_flight IS
	'every message under a live pgq lease: attempt, when it started, when the lease ends, time left, and who holds it (application_name[pid] of the consumer)';
GRANT SELECT ON @extschema@.pgq_in_flight TO PUBLIC;

CREATE FUNCTION @extschema@.pgq_failed_messages(
	OUT queue pg_catalog.regclass,
	OUT id pg_catalog.uuid,
	OUT attempt pg_catalog.int4,
	OUT state pg_catalog.text,
	OUT error_detail pg_catalog.text,
	OUT failed_at pg_catalog.timestamptz,
	OUT retry_at pg_catalog.timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgq_failed_messages'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pgq_failed_messages() IS
	'dead and retrying messages behind the pgq_failures view';

CREATE VIEW @extschema@.pgq_failures AS
SELECT * FROM @extschema@.pgq_failed_messages();
COMMENT ON VIEW @extschema@.pgq_failures IS
	'dead messages (state dead) and messages waiting for a retry after a nack (state retrying), with their last error';
GRANT SELECT ON @extschema@.pgq_failures TO PUBLIC;

CREATE VIEW @extschema@.pgq_failure_summary AS
SELECT f.queue,
	   f.error_detail,
	   pg_catalog.count(*) AS messages,
	   pg_catalog.count(*) FILTER (WHERE f.state OPERATOR(pg_catalog.=) 'dead') AS dead,
	   pg_catalog.min(f.failed_at) AS first_seen,
	   pg_catalog.max(f.failed_at) AS last_seen
FROM @extschema@.pgq_failures f
GROUP BY f.queue, f.error_detail;
COMMENT ON VIEW @extschema@.pgq_failure_summary IS
	'what is failing: per queue and error text, how many messages, how many dead, first and last seen';
GRANT SELECT ON @extschema@.pgq_failure_summary TO PUBLIC;

GRANT SELECT ON @extschema@.pgq_queues, @extschema@.pgq_workers,
	@extschema@.pgq_queue_stats, @extschema@.pgq_in_flight,
	@extschema@.pgq_failures, @extschema@.pgq_failure_summary TO pg_monitor;

-- History --------------------------------------------------------------

-- One row per queue and sample, written by the background worker every
-- pgq.history_interval and kept for pgq.history_retention.
CREATE TABLE @extschema@.pgq_history (
	queue pg_catalog.regclass NOT NULL,
	sampled_at pg_catalog.timestamptz NOT NULL,
	interval_start pg_catalog.timestamptz NOT NULL,
	published pg_catalog.int8 NOT NULL,
	consumed pg_catalog.int8 NOT NULL,
	acked pg_catalog.int8 NOT NULL,
	nacked pg_catalog.int8 NOT NULL,
	discarded pg_catalog.int8 NOT NULL,
	reclaimed pg_catalog.int8 NOT NULL,
	died pg_catalog.int8 NOT NULL,
	ready pg_catalog.int8,
	scheduled pg_catalog.int8 NOT NULL,
	in_flight pg_catalog.int8 NOT NULL,
	dead pg_catalog.int8,
	done pg_catalog.int8,
	finished pg_catalog.int8 NOT NULL,
	wait_avg_ms pg_catalog.float8,
	wait_p95_ms pg_catalog.float8,
	run_avg_ms pg_catalog.float8,
	run_p95_ms pg_catalog.float8,
	CONSTRAINT pgq_history_pkey PRIMARY KEY (queue, sampled_at)
);
COMMENT ON TABLE @extschema@.pgq_history IS
	'samples of every queue''s statistics: counter increments over (interval_start, sampled_at], gauges at sampled_at, and wait/run times of the messages finished in the interval';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.pgq_history', '');
REVOKE ALL ON @extschema@.pgq_history FROM PUBLIC;

CREATE VIEW @extschema@.pgq_queue_history AS
SELECT h.*
FROM @extschema@.pgq_history h
WHERE pg_catalog.has_table_privilege(h.queue::pg_catalog.oid, 'SELECT')
   OR pg_catalog.pg_has_role('pg_monitor', 'USAGE');
COMMENT ON VIEW @extschema@.pgq_queue_history IS
	'the rows of pgq_history of the queues the current role may watch';
GRANT SELECT ON @extschema@.pgq_queue_history TO PUBLIC;
GRANT SELECT ON @extschema@.pgq_queue_history TO pg_monitor;

-- Privileges -----------------------------------------------------------

-- What pgq_grant gave: pgq_revoke re-grants what a grantee's other role
-- sets still need, and admins may alter and drop their queue.
CREATE TABLE @extschema@.pgq_grants (
	queue pg_catalog.regclass NOT NULL,
	grantee pg_catalog.regrole NOT NULL,
	privilege pg_catalog.text NOT NULL,
	CONSTRAINT pgq_grants_pkey PRIMARY KEY (queue, grantee, privilege),
	CONSTRAINT pgq_grants_privilege_check
		CHECK (privilege OPERATOR(pg_catalog.=) ANY (ARRAY['publish', 'consume', 'admin']::pg_catalog.text[]))
);
COMMENT ON TABLE @extschema@.pgq_grants IS
	'what pgq_grant gave to whom on which queue; change it with pgq_grant and pgq_revoke';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.pgq_grants', '');
REVOKE ALL ON @extschema@.pgq_grants FROM PUBLIC;

CREATE VIEW @extschema@.pgq_queue_grants AS
SELECT g.queue, g.grantee, g.privilege
FROM @extschema@.pgq_grants g
WHERE pg_catalog.has_table_privilege(g.queue::pg_catalog.oid, 'SELECT')
   OR pg_catalog.pg_has_role('pg_monitor', 'USAGE');
COMMENT ON VIEW @extschema@.pgq_queue_grants IS
	'who may publish, consume and administer the queues the current role may watch';
GRANT SELECT ON @extschema@.pgq_queue_grants TO PUBLIC;

-- Forget the history and grants of dropped queues too.
CREATE OR REPLACE FUNCTION @extschema@.pgq_forget_dropped_queues()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	DELETE FROM @extschema@.pgq_queue_config c
	USING pg_catalog.pg_event_trigger_dropped_objects() d
	WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
	  AND d.objsubid OPERATOR(pg_catalog.=) 0
	  AND d.objid OPERATOR(pg_catalog.=) c.queue::pg_catalog.oid;
	DELETE FROM @extschema@.pgq_history h
	USING pg_catalog.pg_event_trigger_dropped_objects() d
	WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
	  AND d.objsubid OPERATOR(pg_catalog.=) 0
	  AND d.objid OPERATOR(pg_catalog.=) h.queue::pg_catalog.oid;
	DELETE FROM @extschema@.pgq_grants g
	USING pg_catalog.pg_event_trigger_dropped_objects() d
	WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
	  AND d.objsubid OPERATOR(pg_catalog.=) 0
	  AND d.objid OPERATOR(pg_catalog.=) g.queue::pg_catalog.oid;
END
$$;

CREATE FUNCTION @extschema@.pgq_queue_activity(
	queue pg_catalog.regclass,
	since pg_catalog.timestamptz DEFAULT pg_catalog.now() OPERATOR(pg_catalog.-) '24 hours'::pg_catalog.interval,
	bucket pg_catalog.interval DEFAULT '1 hour')
RETURNS TABLE (
	bucket_start pg_catalog.timestamptz,
	published pg_catalog.int8,
	done pg_catalog.int8,
	failed pg_catalog.int8,
	dead pg_catalog.int8,
	depth_at_end pg_catalog.int8,
	wait_avg_ms pg_catalog.float8,
	wait_p95_ms pg_catalog.float8,
	run_avg_ms pg_catalog.float8,
	run_p95_ms pg_catalog.float8)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	bucket_seconds float8 := extract(epoch FROM bucket);
BEGIN
	IF queue IS NULL OR since IS NULL OR bucket IS NULL THEN
		RAISE EXCEPTION 'queue, since and bucket must not be null' USING ERRCODE = '22004';
	END IF;
	IF bucket_seconds <= 0 THEN
		RAISE EXCEPTION 'bucket must be positive' USING ERRCODE = '22023';
	END IF;
	RETURN QUERY
	SELECT since + pg_catalog.make_interval(secs => b.n * bucket_seconds) AS bucket_start,
		   sum(h.published)::int8,
		   sum(h.acked)::int8,
		   sum(h.nacked)::int8,
		   sum(h.died)::int8,
		   (array_agg(COALESCE(h.ready, 0) + h.scheduled + h.in_flight ORDER BY h.sampled_at DESC))[1],
		   sum(h.wait_avg_ms * h.finished) / NULLIF(sum(h.finished) FILTER (WHERE h.wait_avg_ms IS NOT NULL), 0),
		   max(h.wait_p95_ms),
		   sum(h.run_avg_ms * h.finished) / NULLIF(sum(h.finished) FILTER (WHERE h.run_avg_ms IS NOT NULL), 0),
		   max(h.run_p95_ms)
	FROM @extschema@.pgq_queue_history h
		 CROSS JOIN LATERAL (SELECT floor(extract(epoch FROM h.sampled_at - since) / bucket_seconds) AS n) b
	WHERE h.queue = pgq_queue_activity.queue
	  AND h.sampled_at >= since
	GROUP BY b.n
	ORDER BY b.n;
END
$$;
COMMENT ON FUNCTION @extschema@.pgq_queue_activity(pg_catalog.regclass, pg_catalog.timestamptz, pg_catalog.interval) IS
	'what happened to a queue since a time, per bucket: published, done (acked), failed (nacked), dead, depth at the end, average and p95 time in queue and processing time (p95 is the highest of the samples'' p95s)';

-- A picture in psql ----------------------------------------------------

CREATE FUNCTION @extschema@.pgq_sparkline(pg_catalog.float8[])
RETURNS pg_catalog.text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT string_agg(CASE
						  WHEN v IS NULL THEN ' '
						  WHEN m.hi <= 0 THEN '▁'
						  ELSE substr('▁▂▃▄▅▆▇█', 1 + least(7, floor(v / m.hi * 7.999)::int), 1)
					  END, '' ORDER BY i)
	FROM unnest($1) WITH ORDINALITY AS u(v, i),
		 (SELECT max(x) AS hi FROM unnest($1) AS x) m
$$;
COMMENT ON FUNCTION @extschema@.pgq_sparkline(pg_catalog.float8[]) IS
	'a Unicode sparkline of the values (blank for NULL), scaled to the largest';

CREATE FUNCTION @extschema@.pgq_report(
	queue pg_catalog.regclass,
	period pg_catalog.interval DEFAULT '24 hours')
RETURNS pg_catalog.text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	buckets constant int := 24;
	since timestamptz := now() - period;
	bucket interval := period / buckets;
	s record;
	a record;
	depth float8[] := '{}';
	thru float8[] := '{}';
	fails float8[] := '{}';
	waits float8[] := '{}';
	total_done int8 := 0;
	total_failed int8 := 0;
	total_dead int8 := 0;
	total_published int8 := 0;
	result text;
	e record;
BEGIN
	IF queue IS NULL OR period IS NULL THEN
		RAISE EXCEPTION 'queue and period must not be null' USING ERRCODE = '22004';
	END IF;
	IF period <= '0' THEN
		RAISE EXCEPTION 'period must be positive' USING ERRCODE = '22023';
	END IF;
	depth := array_fill(NULL::float8, ARRAY[buckets]);
	thru := depth;
	fails := depth;
	waits := depth;
	FOR a IN SELECT * FROM @extschema@.pgq_queue_activity(queue, since, bucket) LOOP
		DECLARE
			k int := 1 + floor(extract(epoch FROM a.bucket_start - since) / extract(epoch FROM bucket))::int;
		BEGIN
			IF k BETWEEN 1 AND buckets THEN
				depth[k] := a.depth_at_end;
				thru[k] := a.done;
				fails[k] := a.failed + a.dead;
				waits[k] := a.wait_p95_ms;
			END IF;
			total_done := total_done + a.done;
			total_failed := total_failed + a.failed;
			total_dead := total_dead + a.dead;
			total_published := total_published + a.published;
		END;
	END LOOP;

	result := format(E'queue %s, last %s (%s buckets of %s)\n', queue, period, buckets, bucket);
	result := result || format(E'  depth       %s  max %s\n', @extschema@.pgq_sparkline(depth),
							   COALESCE((SELECT max(x)::int8 FROM unnest(depth) x)::text, '-'));
	result := result || format(E'  done        %s  %s done of %s published\n', @extschema@.pgq_sparkline(thru),
							   total_done, total_published);
	result := result || format(E'  failures    %s  %s nacked, %s dead\n', @extschema@.pgq_sparkline(fails),
							   total_failed, total_dead);
	result := result || format(E'  wait p95    %s  max %s ms\n', @extschema@.pgq_sparkline(waits),
							   COALESCE((SELECT round(max(x))::int8 FROM unnest(waits) x)::text, '-'));
	SELECT * INTO s FROM @extschema@.pgq_queue_stats q WHERE q.queue = pgq_report.queue;
	IF FOUND THEN
		result := result || format(E'  now         ready %s, scheduled %s, in flight %s, expired leases %s, dead %s, done %s, oldest ready %s\n',
								   COALESCE(s.ready::text, '?'), s.scheduled, s.in_flight, s.expired_leases,
								   COALESCE(s.dead::text, '?'), COALESCE(s.done::text, '?'),
								   COALESCE(date_trunc('second', s.oldest_ready_age)::text, '-'));
	END IF;
	result := result || E'  top errors\n';
	FOR e IN SELECT f.error_detail, f.messages, f.dead
			   FROM @extschema@.pgq_failure_summary f
			  WHERE f.queue = pgq_report.queue
			  ORDER BY f.messages DESC, f.error_detail
			  LIMIT 5 LOOP
		result := result || format(E'    %6s  %s%s\n', e.messages, left(e.error_detail, 60),
								   CASE WHEN e.dead > 0 THEN format(' (%s dead)', e.dead) ELSE '' END);
	END LOOP;
	RETURN result;
END
$$;
COMMENT ON FUNCTION @extschema@.pgq_report(pg_catalog.regclass, pg_catalog.interval) IS
	'a short text report for a terminal: sparklines of depth, throughput, failures and wait over the period, the state now, and the top errors';

-- Queues created under 1.0 get the failure index that 1.1's views use.
DO $pgq_upgrade$
DECLARE
	q record;
	idx text;
BEGIN
	FOR q IN SELECT c.queue, r.relname, n.nspname
			   FROM @extschema@.pgq_queue_config c
					JOIN pg_catalog.pg_class r ON r.oid OPERATOR(pg_catalog.=) c.queue::pg_catalog.oid
					JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) r.relnamespace LOOP
		idx := q.relname OPERATOR(pg_catalog.||) '_failed_idx';
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class i
						WHERE i.relname OPERATOR(pg_catalog.=) idx
						  AND i.relnamespace OPERATOR(pg_catalog.=) (SELECT n2.oid FROM pg_catalog.pg_namespace n2 WHERE n2.nspname OPERATOR(pg_catalog.=) q.nspname)) THEN
			EXECUTE pg_catalog.format('CREATE INDEX %I ON %I.%I (processed_at) WHERE error_detail IS NOT NULL',
									  idx, q.nspname, q.relname);
		END IF;
	END LOOP;
END
$pgq_upgrade$;

-- NOTIFY on publish, for clients that prefer LISTEN ----------------------

ALTER TABLE @extschema@.pgq_queue_config
	ADD COLUMN notify pg_catalog.bool NOT NULL DEFAULT false;

DROP FUNCTION @extschema@.pgq_alter_queue(pg_catalog.regclass, pg_catalog.int4, pg_catalog.interval, pg_catalog.interval, pg_catalog.interval, pg_catalog.bool, pg_catalog.bool);
CREATE FUNCTION @extschema@.pgq_alter_queue(
	queue pg_catalog.regclass,
	max_attempts pg_catalog.int4 DEFAULT NULL,
	lock_duration pg_catalog.interval DEFAULT NULL,
	retry_delay pg_catalog.interval DEFAULT NULL,
	retention pg_catalog.interval DEFAULT NULL,
	unlogged pg_catalog.bool DEFAULT NULL,
	reset_retention pg_catalog.bool DEFAULT false,
	notify pg_catalog.bool DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pgq_alter_queue_1_1'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pgq_alter_queue(pg_catalog.regclass, pg_catalog.int4, pg_catalog.interval, pg_catalog.interval, pg_catalog.interval, pg_catalog.bool, pg_catalog.bool, pg_catalog.bool) IS
	'change a queue''s settings; NULL leaves a setting unchanged; reset_retention => true keeps finished rows again; notify => true sends NOTIFY pgq_<table> at each publish (off by default: every NOTIFY takes a global lock at commit)';
REVOKE EXECUTE ON FUNCTION @extschema@.pgq_alter_queue(pg_catalog.regclass, pg_catalog.int4, pg_catalog.interval, pg_catalog.interval, pg_catalog.interval, pg_catalog.bool, pg_catalog.bool, pg_catalog.bool) FROM PUBLIC;

CREATE OR REPLACE VIEW @extschema@.pgq_queues AS
SELECT c.queue,
	   n.nspname AS queue_schema,
	   r.relname AS queue_name,
	   c.max_attempts,
	   c.lock_duration,
	   c.retry_delay,
	   c.retention,
	   r.relpersistence OPERATOR(pg_catalog.=) 'u' AS unlogged,
	   c.created_at,
	   c.notify
FROM @extschema@.pgq_queue_config c
	 JOIN pg_catalog.pg_class r ON r.oid OPERATOR(pg_catalog.=) c.queue::pg_catalog.oid
	 JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) r.relnamespace
WHERE pg_catalog.has_table_privilege(c.queue::pg_catalog.oid, 'SELECT')
   OR pg_catalog.pg_has_role('pg_monitor', 'USAGE');
