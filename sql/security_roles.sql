--
-- security_roles: who may do what with a queue.
--
-- pgq_grant(queue, role, privilege) hands out exactly the table privileges
-- a job needs: 'publish' (INSERT, SELECT on id), 'consume' (SELECT, UPDATE,
-- DELETE when retention is 0) and 'admin' (every table privilege but
-- REFERENCES/TRIGGER, and EXECUTE on the admin functions).  Everything else
-- is PostgreSQL's own privilege checking, done on every call: a role with
-- no grant gets 42501 from every function, and a revoke takes effect at once.
--
\set VERBOSITY sqlstate
\set SHOW_CONTEXT never

CREATE ROLE regress_sec_producer;
CREATE ROLE regress_sec_consumer;
CREATE ROLE regress_sec_admin;
CREATE ROLE regress_sec_monitor IN ROLE pg_monitor;
CREATE ROLE regress_sec_nobody;

SELECT pgq_create_queue('sec_jobs');
SELECT pgq_create_queue('sec_other');

-- the DDL and admin helpers are not for PUBLIC; the message functions are
-- (table privileges decide), and so are the views
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_execute
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
	AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pgq'
ORDER BY 2, 1;
SELECT c.relname, c.relkind,
	   has_table_privilege('public', c.oid, 'SELECT') AS public_may_select,
	   has_table_privilege('public', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER') AS public_may_write
FROM pg_class c
JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
	AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pgq'
ORDER BY 2, 1;

-- unknown privilege, unknown role, NULLs
SELECT pgq_grant('sec_jobs', 'regress_sec_producer', 'read');
SELECT pgq_grant('sec_jobs', 'regress_sec_producer', 'PUBLISH');
SELECT pgq_grant('sec_jobs', 'regress_sec_no_such_role', 'publish');
SELECT pgq_revoke('sec_jobs', 'regress_sec_producer', 'all');
SELECT pgq_grant('sec_jobs', NULL, 'publish');
SELECT pgq_grant('sec_jobs', 'regress_sec_producer', NULL);
SELECT pgq_grant('pg_class', 'regress_sec_producer', 'publish');

SELECT pgq_grant('sec_jobs', 'regress_sec_producer', 'publish');
SELECT pgq_grant('sec_jobs', 'regress_sec_consumer', 'consume');
SELECT pgq_grant('sec_jobs', 'regress_sec_admin', 'admin');

-- exactly these privileges and nothing more
SELECT r.rolname,
	   array_to_string(ARRAY(
		   SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
		   WHERE has_table_privilege(r.oid, 'sec_jobs', p)), ',') AS table_privileges,
	   (SELECT CASE WHEN bool_and(readable) THEN 'all'
					ELSE coalesce(string_agg(attname, ',' ORDER BY attnum) FILTER (WHERE readable), '') END
		FROM (SELECT a.attname::text, a.attnum,
					 has_column_privilege(r.oid, 'sec_jobs', a.attnum, 'SELECT') AS readable
			  FROM pg_attribute a
			  WHERE a.attrelid = 'sec_jobs'::regclass AND a.attnum > 0 AND NOT a.attisdropped) c
	   ) AS readable_columns,
	   array_to_string(ARRAY(
		   SELECT f FROM unnest(ARRAY['pgq_alter_queue', 'pgq_drop_queue', 'pgq_purge', 'pgq_requeue',
									  'pgq_reclaim', 'pgq_grant', 'pgq_revoke', 'pgq_create_queue',
									  'pgq_register_queue']) f
		   WHERE EXISTS (SELECT 1 FROM pg_proc p WHERE p.proname = f
						 AND has_function_privilege(r.oid, p.oid, 'EXECUTE'))), ',') AS admin_functions,
	   has_schema_privilege(r.oid, 'public', 'USAGE') AS schema_usage
FROM pg_roles r
WHERE r.rolname LIKE 'regress_sec_%'
ORDER BY r.rolname;

-- a few messages to work on, published by the owner (plans get cached in
-- this backend for the owner, then reused by the other roles below)
SELECT count(*) FROM pgq_publish_batch('sec_jobs',
	ARRAY['{"n": 1, "secret": "s1"}', '{"n": 2, "secret": "s2"}', '{"n": 3, "secret": "s3"}']::jsonb[]);
SELECT count(*) FROM pgq_consume('sec_jobs', 1);
SELECT pgq_nack('sec_jobs', (SELECT id FROM sec_jobs WHERE payload->>'n' = '1'), 'retry later', '1 hour');
CREATE TEMP TABLE ids AS
	SELECT payload->>'n' AS n, id FROM sec_jobs;
GRANT SELECT ON ids TO PUBLIC;

--
-- producer: publishes, and nothing else
--
SET ROLE regress_sec_producer;
SELECT pgq_publish('sec_jobs', '{"n": 4, "secret": "s4"}') IS NOT NULL AS published;
SELECT count(*) FROM pgq_publish_batch('sec_jobs', ARRAY['{"n": 5}', '{"n": 6}']::jsonb[]);
SELECT pgq_publish('sec_other', '{"n": 1}');
SELECT * FROM pgq_consume('sec_jobs');
SELECT pgq_ack('sec_jobs', (SELECT id FROM ids WHERE n = '2'));
SELECT pgq_nack('sec_jobs', (SELECT id FROM ids WHERE n = '2'));
SELECT pgq_discard('sec_jobs', (SELECT id FROM ids WHERE n = '2'));
SELECT pgq_extend('sec_jobs', (SELECT id FROM ids WHERE n = '2'), '1 hour');
SELECT pgq_ack_batch('sec_jobs', ARRAY(SELECT id FROM ids));
SELECT payload FROM sec_jobs;
SELECT metadata FROM sec_jobs;
SELECT * FROM sec_jobs;
UPDATE sec_jobs SET consumed_count = 0;
DELETE FROM sec_jobs;
SELECT pgq_purge('sec_jobs');
SELECT pgq_requeue('sec_jobs');
SELECT pgq_reclaim('sec_jobs');
SELECT pgq_alter_queue('sec_jobs', max_attempts => 10);
SELECT pgq_drop_queue('sec_jobs');
SELECT pgq_grant('sec_jobs', 'regress_sec_producer', 'consume');
SELECT pgq_create_queue('sec_producer_queue');
-- a producer reads ids only: not a queue it may read
SELECT count(*) FROM pgq_queues;
RESET ROLE;

--
-- consumer: consumes, acks, nacks, extends, discards; cannot publish,
-- administer or drop
--
SET ROLE regress_sec_consumer;
SELECT payload->>'n' AS n, attempt FROM pgq_consume('sec_jobs', 2) ORDER BY 1;
SELECT pgq_extend('sec_jobs', (SELECT id FROM ids WHERE n = '2'), '2 hours', 1) IS NOT NULL AS extended;
SELECT pgq_ack('sec_jobs', (SELECT id FROM ids WHERE n = '2'), 1);
SELECT pgq_nack('sec_jobs', (SELECT id FROM ids WHERE n = '3'), 'boom', '0', 1);
SELECT pgq_discard('sec_jobs', (SELECT id FROM ids WHERE n = '3'), 'poison');
SELECT pgq_ack_batch('sec_jobs', ARRAY(SELECT id FROM ids));
SELECT pgq_publish('sec_jobs', '{"n": 7}');
SELECT pgq_publish_batch('sec_jobs', ARRAY['{"n": 8}']::jsonb[]);
SELECT * FROM pgq_consume('sec_other');
SELECT pgq_drop_queue('sec_jobs');
SELECT pgq_alter_queue('sec_jobs', max_attempts => 10);
SELECT pgq_purge('sec_jobs');
SELECT pgq_requeue('sec_jobs');
SELECT pgq_reclaim('sec_jobs');
SELECT pgq_reclaim();
SELECT pgq_revoke('sec_jobs', 'regress_sec_producer', 'publish');
TRUNCATE sec_jobs;
SELECT queue, max_attempts FROM pgq_queues ORDER BY 1;
RESET ROLE;

SELECT payload->>'n' AS n, consumed_count,
	   processed_at IS NOT NULL AS finished, error_detail
FROM sec_jobs ORDER BY 1;

--
-- admin: alters, purges, requeues, reclaims and drops this queue, not
-- another one; cannot hand out privileges
--
SELECT pgq_create_queue('sec_admin_drop');
SELECT pgq_grant('sec_admin_drop', 'regress_sec_admin', 'admin');
SET ROLE regress_sec_admin;
SELECT pgq_alter_queue('sec_jobs', max_attempts => 5, retry_delay => '1 second');
SELECT pgq_requeue('sec_jobs');
SELECT pgq_purge('sec_jobs');
SELECT pgq_reclaim('sec_jobs');
SELECT queue, max_attempts, retry_delay FROM pgq_queues ORDER BY 1;
SELECT pgq_alter_queue('sec_other', max_attempts => 5);
SELECT pgq_drop_queue('sec_other');
SELECT pgq_purge('sec_other');
SELECT pgq_requeue('sec_other');
SELECT pgq_reclaim('sec_other');
SELECT * FROM pgq_consume('sec_other');
SELECT pgq_grant('sec_jobs', 'regress_sec_nobody', 'consume');
SELECT pgq_create_queue('sec_admin_queue');
SELECT pgq_register_queue('sec_jobs');
SELECT pgq_drop_queue('sec_admin_drop');
RESET ROLE;
SELECT to_regclass('sec_admin_drop') IS NULL AS dropped,
	   (SELECT count(*) FROM pgq_queues WHERE queue_name = 'sec_admin_drop') AS catalog_rows;
SELECT payload->>'n' AS n, consumed_count,
	   processed_at IS NOT NULL AS finished, error_detail
FROM sec_jobs ORDER BY 1;

--
-- monitor (a pg_monitor member): sees every queue and its settings, no
-- messages
--
SET ROLE regress_sec_monitor;
SELECT queue, queue_schema, queue_name, max_attempts, unlogged FROM pgq_queues ORDER BY 1;
SELECT count(*) > 0 AS sees_workers FROM pgq_workers WHERE database = current_database();
SELECT payload FROM sec_jobs;
SELECT count(*) FROM sec_jobs;
SELECT * FROM pgq_consume('sec_jobs');
SELECT * FROM pgq_queue_config;
RESET ROLE;

--
-- monitoring views: a role sees the queues whose table it may read, a
-- pg_monitor member sees every queue; no view has a payload column
--
SELECT count(*) FROM pgq_consume('sec_jobs', 1);
SELECT pgq_nack('sec_jobs', (SELECT id FROM ids WHERE n = '3'), 'secret-free error', '1 hour');
SELECT count(*) FROM pgq_consume('sec_jobs', 1);
SELECT c.relname AS view_with_payload
FROM pg_class c
JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
	AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pgq'
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname IN ('payload', 'metadata')
WHERE c.relkind = 'v';
CREATE TEMP VIEW watch AS
SELECT (SELECT count(*) FROM pgq_queues WHERE queue_name = 'sec_jobs') AS queues,
	   (SELECT count(*) FROM pgq_queue_stats WHERE queue_name = 'sec_jobs') AS stats,
	   (SELECT count(*) FROM pgq_in_flight WHERE queue = 'sec_jobs'::regclass) AS in_flight,
	   (SELECT count(*) FROM pgq_failures WHERE queue = 'sec_jobs'::regclass) AS failures,
	   (SELECT count(*) FROM pgq_failure_summary WHERE queue = 'sec_jobs'::regclass) AS failure_summary;
GRANT SELECT ON watch TO PUBLIC;
SELECT 'owner' AS role, * FROM watch;
SET ROLE regress_sec_producer;
SELECT 'producer' AS role, * FROM watch;
SET ROLE regress_sec_consumer;
SELECT 'consumer' AS role, * FROM watch;
SET ROLE regress_sec_admin;
SELECT 'admin' AS role, * FROM watch;
SET ROLE regress_sec_monitor;
SELECT 'monitor' AS role, * FROM watch;
SET ROLE regress_sec_nobody;
SELECT 'nobody' AS role, * FROM watch;
RESET ROLE;

--
-- nobody: 42501 from every pgq function that touches a queue, and from the
-- catalog tables; the monitoring functions show it nothing (0 rows, and a
-- report without the queue's errors).  The list must name every function
-- of the extension (checked below).
--
CREATE TEMP TABLE calls (fn text, sql text);
INSERT INTO calls VALUES
	('pgq_create_queue', $$SELECT public.pgq_create_queue('sec_nobody_queue')$$),
	('pgq_register_queue', $$SELECT public.pgq_register_queue('sec_jobs')$$),
	('pgq_alter_queue', $$SELECT public.pgq_alter_queue('sec_jobs', max_attempts => 1)$$),
	('pgq_drop_queue', $$SELECT public.pgq_drop_queue('sec_jobs')$$),
	('pgq_publish', $$SELECT public.pgq_publish('sec_jobs', '{"n": 0}')$$),
	('pgq_publish_batch', $$SELECT public.pgq_publish_batch('sec_jobs', ARRAY['{"n": 0}']::jsonb[])$$),
	('pgq_consume', $$SELECT * FROM public.pgq_consume('sec_jobs')$$),
	('pgq_consume', $$SELECT * FROM public.pgq_consume('sec_jobs', 10, '1 minute', '0', '{"a": "b"}')$$),
	('pgq_ack', $$SELECT public.pgq_ack('sec_jobs', (SELECT id FROM ids WHERE n = '1'))$$),
	('pgq_ack', $$SELECT public.pgq_ack('sec_jobs', (SELECT id FROM ids WHERE n = '1'), 1)$$),
	('pgq_nack', $$SELECT public.pgq_nack('sec_jobs', (SELECT id FROM ids WHERE n = '1'))$$),
	('pgq_discard', $$SELECT public.pgq_discard('sec_jobs', (SELECT id FROM ids WHERE n = '1'))$$),
	('pgq_extend', $$SELECT public.pgq_extend('sec_jobs', (SELECT id FROM ids WHERE n = '1'), '1 hour')$$),
	('pgq_ack_batch', $$SELECT public.pgq_ack_batch('sec_jobs', ARRAY(SELECT id FROM ids))$$),
	('pgq_requeue', $$SELECT public.pgq_requeue('sec_jobs')$$),
	('pgq_purge', $$SELECT public.pgq_purge('sec_jobs')$$),
	('pgq_reclaim', $$SELECT public.pgq_reclaim('sec_jobs')$$),
	('pgq_reclaim', $$SELECT public.pgq_reclaim()$$),
	('pgq_grant', $$SELECT public.pgq_grant('sec_jobs', 'regress_sec_nobody', 'consume')$$),
	('pgq_revoke', $$SELECT public.pgq_revoke('sec_jobs', 'regress_sec_consumer', 'consume')$$),
	('pgq_forget_dropped_queues', $$SELECT public.pgq_forget_dropped_queues()$$),
	('pgq_queue_config', $$SELECT count(*) FROM public.pgq_queue_config$$),
	('pgq_queue_config', $$DELETE FROM public.pgq_queue_config$$),
	('pgq_queue_config', $$UPDATE public.pgq_queue_config SET max_attempts = 0$$),
	('pgq_queue_config', $$INSERT INTO public.pgq_queue_config (queue) VALUES ('ids')$$),
	('pgq_worker_status', $$SELECT * FROM public.pgq_worker_status() WHERE false$$),
	('pgq_stats_by_queue', $$SELECT * FROM public.pgq_stats_by_queue()$$),
	('pgq_in_flight_messages', $$SELECT * FROM public.pgq_in_flight_messages()$$),
	('pgq_failed_messages', $$SELECT * FROM public.pgq_failed_messages()$$),
	('pgq_queue_activity', $$SELECT * FROM public.pgq_queue_activity('sec_jobs')$$),
	('pgq_report', $$SELECT public.pgq_report('sec_jobs') LIKE '%secret-free error%'$$),
	('pgq_sparkline', $$SELECT public.pgq_sparkline(ARRAY[1, 2]::float8[])$$),
	('pgq_history', $$SELECT * FROM public.pgq_history$$),
	('pgq_queue_history', $$SELECT * FROM public.pgq_queue_history$$),
	('sec_jobs', $$SELECT id FROM public.sec_jobs$$),
	('sec_jobs', $$TRUNCATE public.sec_jobs$$);
GRANT SELECT ON calls TO PUBLIC;

-- every function of the extension is in the list
SELECT p.oid::regprocedure AS not_covered
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
	AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pgq'
WHERE p.proname NOT IN (SELECT fn FROM calls);

SET ROLE regress_sec_nobody;
\set VERBOSITY default
DO $$
DECLARE
	c record;
	n bigint;
	r text;
BEGIN
	FOR c IN SELECT * FROM calls LOOP
		BEGIN
			EXECUTE c.sql INTO r;
			GET DIAGNOSTICS n = ROW_COUNT;
			RAISE NOTICE '%: ok, % rows%', c.fn, n, CASE WHEN r IS NOT NULL THEN ', ' || r ELSE '' END;
		EXCEPTION WHEN OTHERS THEN
			RAISE NOTICE '%: %', c.fn, SQLSTATE;
		END;
	END LOOP;
END
$$;
\set VERBOSITY sqlstate
SELECT count(*) FROM pgq_queues;
RESET ROLE;

-- nothing changed
SELECT payload->>'n' AS n, consumed_count,
	   processed_at IS NOT NULL AS finished, error_detail
FROM sec_jobs ORDER BY 1;
SELECT queue, max_attempts FROM pgq_queues ORDER BY 1;

--
-- revoking takes effect at once, in the same session, with plans cached
--
SET ROLE regress_sec_consumer;
SELECT payload->>'n' AS n FROM pgq_consume('sec_jobs', 1);
RESET ROLE;
SELECT pgq_revoke('sec_jobs', 'regress_sec_consumer', 'consume');
SET ROLE regress_sec_consumer;
SELECT * FROM pgq_consume('sec_jobs', 1);
SELECT pgq_ack('sec_jobs', (SELECT id FROM ids WHERE n = '3'));
SELECT count(*) FROM pgq_queues;
RESET ROLE;

SET ROLE regress_sec_producer;
SELECT pgq_publish('sec_jobs', '{"n": 9}') IS NOT NULL AS published;
RESET ROLE;
SELECT pgq_revoke('sec_jobs', 'regress_sec_producer', 'publish');
SET ROLE regress_sec_producer;
SELECT pgq_publish('sec_jobs', '{"n": 10}');
SELECT id FROM sec_jobs LIMIT 0;
RESET ROLE;

SELECT pgq_revoke('sec_jobs', 'regress_sec_admin', 'admin');
SET ROLE regress_sec_admin;
SELECT pgq_alter_queue('sec_jobs', max_attempts => 3);
SELECT pgq_drop_queue('sec_jobs');
SELECT pgq_purge('sec_jobs');
SELECT count(*) FROM pgq_queues;
RESET ROLE;

-- granting again works again
SELECT pgq_grant('sec_jobs', 'regress_sec_consumer', 'consume');
SET ROLE regress_sec_consumer;
SELECT payload->>'n' AS n FROM pgq_consume('sec_jobs', 1);
RESET ROLE;

-- the owner of a queue need not be a superuser: given EXECUTE on the DDL
-- helpers, it creates, alters and drops its own queues, and grants through
-- pgq_grant only once given EXECUTE on it too
CREATE ROLE regress_sec_owner;
GRANT CREATE ON SCHEMA public TO regress_sec_owner;
GRANT EXECUTE ON FUNCTION pgq_create_queue, pgq_alter_queue, pgq_drop_queue TO regress_sec_owner;
SET ROLE regress_sec_owner;
SELECT pgq_create_queue('sec_owned');
SELECT pgq_create_queue('sec_owned_2');
SELECT pgq_publish('sec_owned', '{"n": 1}') IS NOT NULL AS published;
SELECT payload FROM pgq_consume('sec_owned');
SELECT pgq_alter_queue('sec_owned', max_attempts => 1);
SELECT queue, max_attempts FROM pgq_queues WHERE queue_name LIKE 'sec\_owned%' ORDER BY 1;
SELECT pgq_grant('sec_owned', 'regress_sec_consumer', 'consume');
RESET ROLE;
GRANT EXECUTE ON FUNCTION pgq_grant TO regress_sec_owner;
SET ROLE regress_sec_owner;
SELECT pgq_grant('sec_owned', 'regress_sec_consumer', 'consume');
-- admin includes EXECUTE on the admin functions, which only their owner
-- may hand out
SELECT pgq_grant('sec_owned', 'regress_sec_consumer', 'admin');
-- another role's queue
SELECT pgq_grant('sec_jobs', 'regress_sec_nobody', 'consume');
RESET ROLE;

-- a role that may run pgq_alter_queue and pgq_drop_queue still may not
-- change or drop a queue it neither owns nor administers
GRANT EXECUTE ON FUNCTION pgq_alter_queue, pgq_drop_queue TO regress_sec_nobody;
SET ROLE regress_sec_nobody;
\set VERBOSITY default
SELECT pgq_alter_queue('sec_owned', max_attempts => 2);
SELECT pgq_drop_queue('sec_owned');
\set VERBOSITY sqlstate
RESET ROLE;
REVOKE EXECUTE ON FUNCTION pgq_alter_queue, pgq_drop_queue FROM regress_sec_nobody;
SET ROLE regress_sec_owner;
SELECT pgq_drop_queue('sec_owned');
RESET ROLE;
SELECT queue, max_attempts FROM pgq_queues WHERE queue_name LIKE 'sec\_owned%' ORDER BY 1;

--
-- revoking one privilege leaves the others alone: a role that publishes
-- and consumes still publishes after 'consume' is revoked, and an admin of
-- two queues still administers one after 'admin' on the other is revoked
--
SELECT pgq_grant('sec_owned_2', 'regress_sec_producer', 'publish');
SELECT pgq_grant('sec_owned_2', 'regress_sec_producer', 'consume');
SELECT pgq_revoke('sec_owned_2', 'regress_sec_producer', 'consume');
SET ROLE regress_sec_producer;
SELECT pgq_publish('sec_owned_2', '{"n": 1}') IS NOT NULL AS published;
SELECT * FROM pgq_consume('sec_owned_2');
RESET ROLE;
SELECT pgq_grant('sec_owned_2', 'regress_sec_admin', 'admin');
SELECT pgq_grant('sec_other', 'regress_sec_admin', 'admin');
SELECT pgq_revoke('sec_other', 'regress_sec_admin', 'admin');
SET ROLE regress_sec_admin;
SELECT pgq_alter_queue('sec_owned_2', max_attempts => 7);
SELECT pgq_alter_queue('sec_other', max_attempts => 7);
RESET ROLE;
SELECT queue, max_attempts FROM pgq_queues WHERE queue_name IN ('sec_owned_2', 'sec_other') ORDER BY 1;

-- clean up
DROP VIEW watch;
SELECT pgq_drop_queue('sec_jobs');
SELECT pgq_drop_queue('sec_other');
SELECT pgq_drop_queue('sec_owned_2');
REVOKE CREATE ON SCHEMA public FROM regress_sec_owner;
DROP OWNED BY regress_sec_producer, regress_sec_consumer, regress_sec_admin,
	regress_sec_monitor, regress_sec_nobody, regress_sec_owner;
DROP ROLE regress_sec_producer, regress_sec_consumer, regress_sec_admin,
	regress_sec_monitor, regress_sec_nobody, regress_sec_owner;
SELECT count(*) FROM pgq_queues WHERE queue_name LIKE 'sec\_%';
