--
-- security_search_path: a hostile search_path never steers pgq.
--
-- An attacker owns schema "evil" and plants look-alikes there and in
-- pg_temp: functions with the names and argument types of pgq's own and of
-- the built-ins pgq's SQL uses, better-matching overloads (the
-- CVE-2018-1058 trick), operators on uuid, jsonb, timestamptz, int4,
-- interval and oid, domains named like built-in types, a table and a
-- temporary table with the queue's name, and a catalog table
-- pgq_queue_config.  Every planted object records itself in sp_tripwire
-- when it runs.  A superuser then calls every pgq function, schema-
-- qualified, with three search paths:
--   evil, pg_temp, public               (pg_catalog implicitly first)
--   pg_temp, evil, public               (temporary relations first)
--   evil, pg_catalog, pg_temp, public   (evil before even pg_catalog)
-- and afterwards the tripwire is empty and every result is right.
--
\set VERBOSITY sqlstate
\set SHOW_CONTEXT never

CREATE ROLE regress_sec_attacker;
CREATE TABLE sp_tripwire (what text, by_role name DEFAULT current_user);
GRANT SELECT, INSERT ON sp_tripwire TO PUBLIC;
CREATE SCHEMA evil AUTHORIZATION regress_sec_attacker;
GRANT USAGE ON SCHEMA evil TO PUBLIC;

SET ROLE regress_sec_attacker;
SET search_path = pg_catalog;

CREATE FUNCTION evil.trip(what pg_catalog.text) RETURNS pg_catalog.bool
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.sp_tripwire (what) VALUES (what);
	RETURN true;
END
$$;

-- look-alikes of every pgq function, same names and argument types, in
-- evil and in pg_temp
DO $$
DECLARE
	f record;
	s text;
BEGIN
	FOREACH s IN ARRAY ARRAY['evil', 'pg_temp'] LOOP
		FOR f IN
			SELECT p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid) AS args,
				   pg_catalog.pg_get_function_result(p.oid) AS result,
				   p.proretset OR p.prorettype = 'pg_catalog.void'::pg_catalog.regtype
					   OR p.prorettype = 'pg_catalog.event_trigger'::pg_catalog.regtype AS bare_return
			FROM pg_catalog.pg_proc p
			JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
				AND d.objid = p.oid AND d.deptype = 'e'
				AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
			JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'pgq'
		LOOP
			EXECUTE pg_catalog.format(
				'CREATE FUNCTION %I.%I(%s) RETURNS %s LANGUAGE plpgsql AS $f$BEGIN PERFORM evil.trip(%L); RETURN%s; END$f$',
				s, f.proname, f.args, f.result, s || '.' || f.proname,
				CASE WHEN f.bare_return THEN '' ELSE ' NULL' END);
		END LOOP;
	END LOOP;
END
$$;

-- look-alikes of the built-ins pgq's SQL uses, exact and better-matching
CREATE FUNCTION evil.now() RETURNS pg_catalog.timestamptz LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('evil.now'); RETURN '2000-01-01 00:00:00+00'; END$b$;
CREATE FUNCTION evil.clock_timestamp() RETURNS pg_catalog.timestamptz LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('evil.clock_timestamp'); RETURN '2000-01-01 00:00:00+00'; END$b$;
CREATE FUNCTION evil.statement_timestamp() RETURNS pg_catalog.timestamptz LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('evil.statement_timestamp'); RETURN '2000-01-01 00:00:00+00'; END$b$;
CREATE FUNCTION evil.gen_random_uuid() RETURNS pg_catalog.uuid LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('evil.gen_random_uuid'); RETURN '00000000-0000-0000-0000-000000000000'; END$b$;
CREATE FUNCTION evil.gen_random_uuid(pg_catalog.int4 DEFAULT 0) RETURNS pg_catalog.uuid LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('evil.gen_random_uuid(int4)'); RETURN '00000000-0000-0000-0000-000000000000'; END$b$;
CREATE FUNCTION evil.concat(pg_catalog.text, pg_catalog.int4, pg_catalog.text) RETURNS pg_catalog.text LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('evil.concat(text, int4, text)'); RETURN 'hijacked'; END$b$;
CREATE FUNCTION evil.concat(pg_catalog.text, pg_catalog.text) RETURNS pg_catalog.text LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('evil.concat(text, text)'); RETURN 'hijacked'; END$b$;
CREATE FUNCTION evil.power(pg_catalog.float8, pg_catalog.float8) RETURNS pg_catalog.float8 LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('evil.power(float8, float8)'); RETURN 0; END$b$;
CREATE FUNCTION evil.power(pg_catalog.numeric, pg_catalog.numeric) RETURNS pg_catalog.numeric LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('evil.power(numeric, numeric)'); RETURN 0; END$b$;
CREATE FUNCTION evil.unnest(pg_catalog.jsonb[]) RETURNS SETOF pg_catalog.jsonb LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('evil.unnest(jsonb[])'); RETURN; END$b$;
CREATE FUNCTION evil.unnest(pg_catalog.uuid[]) RETURNS SETOF pg_catalog.uuid LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('evil.unnest(uuid[])'); RETURN; END$b$;
CREATE FUNCTION evil.has_table_privilege(pg_catalog.oid, pg_catalog.text) RETURNS pg_catalog.bool LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('evil.has_table_privilege(oid, text)'); RETURN true; END$b$;
CREATE FUNCTION evil.pg_has_role(pg_catalog.name, pg_catalog.text) RETURNS pg_catalog.bool LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('evil.pg_has_role(name, text)'); RETURN true; END$b$;
CREATE FUNCTION pg_temp.now() RETURNS pg_catalog.timestamptz LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('pg_temp.now'); RETURN '2000-01-01 00:00:00+00'; END$b$;
CREATE FUNCTION pg_temp.clock_timestamp() RETURNS pg_catalog.timestamptz LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('pg_temp.clock_timestamp'); RETURN '2000-01-01 00:00:00+00'; END$b$;
CREATE FUNCTION pg_temp.statement_timestamp() RETURNS pg_catalog.timestamptz LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('pg_temp.statement_timestamp'); RETURN '2000-01-01 00:00:00+00'; END$b$;
CREATE FUNCTION pg_temp.gen_random_uuid() RETURNS pg_catalog.uuid LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('pg_temp.gen_random_uuid'); RETURN '00000000-0000-0000-0000-000000000000'; END$b$;
CREATE FUNCTION pg_temp.gen_random_uuid(pg_catalog.int4 DEFAULT 0) RETURNS pg_catalog.uuid LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('pg_temp.gen_random_uuid(int4)'); RETURN '00000000-0000-0000-0000-000000000000'; END$b$;
CREATE FUNCTION pg_temp.concat(pg_catalog.text, pg_catalog.int4, pg_catalog.text) RETURNS pg_catalog.text LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('pg_temp.concat(text, int4, text)'); RETURN 'hijacked'; END$b$;
CREATE FUNCTION pg_temp.concat(pg_catalog.text, pg_catalog.text) RETURNS pg_catalog.text LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('pg_temp.concat(text, text)'); RETURN 'hijacked'; END$b$;
CREATE FUNCTION pg_temp.power(pg_catalog.float8, pg_catalog.float8) RETURNS pg_catalog.float8 LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('pg_temp.power(float8, float8)'); RETURN 0; END$b$;
CREATE FUNCTION pg_temp.power(pg_catalog.numeric, pg_catalog.numeric) RETURNS pg_catalog.numeric LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('pg_temp.power(numeric, numeric)'); RETURN 0; END$b$;
CREATE FUNCTION pg_temp.unnest(pg_catalog.jsonb[]) RETURNS SETOF pg_catalog.jsonb LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('pg_temp.unnest(jsonb[])'); RETURN; END$b$;
CREATE FUNCTION pg_temp.unnest(pg_catalog.uuid[]) RETURNS SETOF pg_catalog.uuid LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('pg_temp.unnest(uuid[])'); RETURN; END$b$;
CREATE FUNCTION pg_temp.has_table_privilege(pg_catalog.oid, pg_catalog.text) RETURNS pg_catalog.bool LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('pg_temp.has_table_privilege(oid, text)'); RETURN true; END$b$;
CREATE FUNCTION pg_temp.pg_has_role(pg_catalog.name, pg_catalog.text) RETURNS pg_catalog.bool LANGUAGE plpgsql
	AS $b$BEGIN PERFORM evil.trip('pg_temp.pg_has_role(name, text)'); RETURN true; END$b$;

-- operators: every one pgq's SQL could use, on the types it uses, each
-- recording itself and giving a plausible wrong answer
CREATE FUNCTION evil.op_bool(what pg_catalog.text) RETURNS pg_catalog.bool
LANGUAGE plpgsql AS $$ BEGIN PERFORM evil.trip(what); RETURN true; END $$;
DO $$
DECLARE
	s text;
	o record;
BEGIN
	FOREACH s IN ARRAY ARRAY['evil', 'pg_temp'] LOOP
		FOR o IN
			SELECT * FROM (VALUES
				('=', 'uuid', 'uuid', 'bool'), ('<>', 'uuid', 'uuid', 'bool'),
				('=', 'jsonb', 'jsonb', 'bool'), ('@>', 'jsonb', 'jsonb', 'bool'),
				('<@', 'jsonb', 'jsonb', 'bool'), ('->>', 'jsonb', 'text', 'text'),
				('=', 'timestamptz', 'timestamptz', 'bool'), ('<', 'timestamptz', 'timestamptz', 'bool'),
				('<=', 'timestamptz', 'timestamptz', 'bool'), ('>', 'timestamptz', 'timestamptz', 'bool'),
				('>=', 'timestamptz', 'timestamptz', 'bool'),
				('+', 'timestamptz', 'interval', 'timestamptz'), ('-', 'timestamptz', 'interval', 'timestamptz'),
				('=', 'int4', 'int4', 'bool'), ('<', 'int4', 'int4', 'bool'), ('<=', 'int4', 'int4', 'bool'),
				('>', 'int4', 'int4', 'bool'), ('>=', 'int4', 'int4', 'bool'),
				('+', 'int4', 'int4', 'int4'), ('-', 'int4', 'int4', 'int4'),
				('=', 'interval', 'interval', 'bool'), ('<', 'interval', 'interval', 'bool'),
				('>', 'interval', 'interval', 'bool'), ('*', 'interval', 'float8', 'interval'),
				('=', 'oid', 'oid', 'bool'), ('=', 'regclass', 'regclass', 'bool'),
				('=', 'text', 'text', 'bool'), ('||', 'text', 'text', 'text'),
				('=', 'name', 'name', 'bool')
			) v(op, l, r, res)
		LOOP
			EXECUTE pg_catalog.format(
				'CREATE FUNCTION %1$I.%2$I(pg_catalog.%3$s, pg_catalog.%4$s) RETURNS pg_catalog.%5$s LANGUAGE plpgsql'
				' AS $f$BEGIN PERFORM evil.trip(%6$L); RETURN %7$s; END$f$',
				s, 'op_' || md5(o.op || o.l || o.r), o.l, o.r, o.res,
				s || ' operator ' || o.op || '(' || o.l || ', ' || o.r || ')',
				CASE o.res WHEN 'bool' THEN 'true' WHEN 'int4' THEN '$1' WHEN 'text' THEN pg_catalog.quote_literal('hijacked') ELSE '$1' END);
			EXECUTE pg_catalog.format(
				'CREATE OPERATOR %1$I.%2$s (LEFTARG = pg_catalog.%3$s, RIGHTARG = pg_catalog.%4$s, FUNCTION = %1$I.%5$I)',
				s, o.op, o.l, o.r, 'op_' || md5(o.op || o.l || o.r));
		END LOOP;
	END LOOP;
END
$$;

-- domains named like the built-in types (found before pg_catalog's only
-- when evil comes first explicitly)
DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['uuid', 'jsonb', 'timestamptz', 'interval', 'int4', 'int8', 'float8', 'text', 'bool', 'regclass'] LOOP
		EXECUTE pg_catalog.format('CREATE DOMAIN evil.%1$I AS pg_catalog.%1$I CHECK (evil.trip(%2$L))',
								  t, 'domain evil.' || t);
	END LOOP;
END
$$;

-- a table with the queue's name, and a catalog look-alike, in evil and in
-- pg_temp; a catalog look-alike row claims the evil table is a queue
CREATE FUNCTION evil.trip_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM evil.trip(pg_catalog.concat_ws(' ',
		CASE WHEN TG_TABLE_SCHEMA OPERATOR(pg_catalog.~~) 'pg\_temp\_%' THEN 'pg_temp' ELSE TG_TABLE_SCHEMA END,
		TG_TABLE_NAME, TG_OP));
	RETURN NULL;
END
$$;
CREATE TABLE evil.sp_jobs (
	id pg_catalog.uuid, created_at pg_catalog.timestamptz, started_at pg_catalog.timestamptz,
	locked_until pg_catalog.timestamptz, scheduled_for pg_catalog.timestamptz,
	processed_at pg_catalog.timestamptz, consumed_count pg_catalog.int4,
	error_detail pg_catalog.text, payload pg_catalog.jsonb, metadata pg_catalog.jsonb,
	lease_holder pg_catalog.text, available_at pg_catalog.timestamptz);
CREATE TEMP TABLE sp_jobs (LIKE evil.sp_jobs);
CREATE TRIGGER trip BEFORE INSERT OR UPDATE OR DELETE ON evil.sp_jobs
	FOR EACH ROW EXECUTE FUNCTION evil.trip_trigger();
CREATE TRIGGER trip_truncate BEFORE TRUNCATE ON evil.sp_jobs
	FOR EACH STATEMENT EXECUTE FUNCTION evil.trip_trigger();
CREATE TRIGGER trip BEFORE INSERT OR UPDATE OR DELETE ON pg_temp.sp_jobs
	FOR EACH ROW EXECUTE FUNCTION evil.trip_trigger();
CREATE TABLE evil.pgq_queue_config (queue pg_catalog.regclass, max_attempts pg_catalog.int4,
	lock_duration pg_catalog.interval, retry_delay pg_catalog.interval,
	retention pg_catalog.interval, created_at pg_catalog.timestamptz);
CREATE TEMP TABLE pgq_queue_config (LIKE evil.pgq_queue_config);
INSERT INTO evil.pgq_queue_config VALUES ('evil.sp_jobs', 1, '1 second', '0', '0', NULL);
INSERT INTO pg_temp.pgq_queue_config SELECT * FROM evil.pgq_queue_config;
INSERT INTO pg_temp.pgq_queue_config VALUES ('pg_temp.sp_jobs', 1, '1 second', '0', '0', NULL);
CREATE TRIGGER trip BEFORE INSERT OR UPDATE OR DELETE ON evil.pgq_queue_config
	FOR EACH ROW EXECUTE FUNCTION evil.trip_trigger();
CREATE TRIGGER trip BEFORE INSERT OR UPDATE OR DELETE ON pg_temp.pgq_queue_config
	FOR EACH ROW EXECUTE FUNCTION evil.trip_trigger();
CREATE VIEW evil.pgq_queues AS SELECT * FROM evil.pgq_queue_config WHERE evil.trip('evil.pgq_queues');
RESET search_path;
RESET ROLE;

-- the traps are armed: an unqualified call finds them (evil first).
-- Operators and functions in pg_temp are never found unqualified, by
-- PostgreSQL's rules; its tables are.
SET search_path = evil, pg_catalog, pg_temp, public;
SELECT now();
SELECT clock_timestamp();
-- (two look-alikes make even this call ambiguous)
SELECT gen_random_uuid();
SELECT concat('a', 1, 'b');
SELECT power(2::pg_catalog.float8, 2::pg_catalog.float8);
SELECT '{"a": "b"}'::pg_catalog.jsonb @> '{}'::pg_catalog.jsonb;
SELECT 1 + 1;
SELECT 'x'::text;
SELECT count(*) FROM pgq_queues;
SELECT pgq_publish(NULL, NULL, NULL, NULL);
INSERT INTO sp_jobs DEFAULT VALUES;
SET search_path = pg_temp, evil, public;
INSERT INTO sp_jobs DEFAULT VALUES;
SELECT count(*) FROM unnest(ARRAY['{}']::pg_catalog.jsonb[]);
RESET search_path;
SELECT what, count(*) FROM sp_tripwire GROUP BY what ORDER BY what;
TRUNCATE sp_tripwire;

--
-- search_path = evil, pg_temp, public
--
SET search_path = evil, pg_temp, public;

-- queue DDL
SELECT public.pgq_create_queue('public.sp_jobs', max_attempts => 2, retry_delay => '1 second');
SELECT public.pgq_create_queue('public.sp_keep', retention => '0');
CREATE TABLE public.sp_go (
	id pg_catalog.uuid NOT NULL, created_at pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
	started_at pg_catalog.timestamptz, locked_until pg_catalog.timestamptz,
	scheduled_for pg_catalog.timestamptz, processed_at pg_catalog.timestamptz,
	consumed_count pg_catalog.int4 NOT NULL DEFAULT 0, error_detail pg_catalog.text,
	payload pg_catalog.jsonb NOT NULL, metadata pg_catalog.jsonb NOT NULL DEFAULT '{}');
SELECT public.pgq_register_queue('public.sp_go', max_attempts => 1);
SELECT public.pgq_alter_queue('public.sp_jobs', lock_duration => '1 hour', unlogged => true);
SELECT public.pgq_alter_queue('public.sp_jobs', unlogged => false);
SELECT public.pgq_grant('public.sp_jobs', 'regress_sec_attacker', 'consume');
SELECT public.pgq_revoke('public.sp_jobs', 'regress_sec_attacker', 'consume');
SELECT public.pgq_grant('public.sp_jobs', 'regress_sec_attacker', 'admin');
SELECT public.pgq_revoke('public.sp_jobs', 'regress_sec_attacker', 'admin');

-- an unqualified queue name means what regclass input says: the planted
-- table, which is no queue (whatever a look-alike catalog claims)
SELECT public.pgq_publish('sp_jobs', '{"n": 0}');
SELECT * FROM public.pgq_consume('sp_jobs');

-- messages
SELECT public.pgq_publish('public.sp_jobs', '{"n": 1}', '{"k": "v"}') AS id1 \gset
SELECT count(*) FROM public.pgq_publish_batch('public.sp_jobs',
	ARRAY['{"n": 2}', '{"n": 3}', '{"n": 4}']::pg_catalog.jsonb[], '{"k": "w"}');
SELECT count(*) FROM public.pgq_publish('public.sp_jobs', '{"n": 5}', '{}', '2999-01-01 00:00:00+00');
SELECT payload, metadata, attempt FROM public.pgq_consume('public.sp_jobs', 1, metadata_filter => '{"k": "v"}');
SELECT payload, attempt FROM public.pgq_consume('public.sp_jobs', 10) ORDER BY payload;
SELECT public.pgq_extend('public.sp_jobs', :'id1', '2 hours', 1) IS NOT NULL AS extended;
SELECT public.pgq_ack('public.sp_jobs', :'id1', 2) AS ack_wrong_attempt,
	   public.pgq_ack('public.sp_jobs', :'id1', 1) AS ack;
SELECT id AS id2 FROM public.sp_jobs WHERE payload OPERATOR(pg_catalog.=) '{"n": 2}' \gset
SELECT id AS id3 FROM public.sp_jobs WHERE payload OPERATOR(pg_catalog.=) '{"n": 3}' \gset
SELECT id AS id4 FROM public.sp_jobs WHERE payload OPERATOR(pg_catalog.=) '{"n": 4}' \gset
-- nack with the default back-off (retry_delay * 2^(attempt-1))
SELECT public.pgq_nack('public.sp_jobs', :'id2', NULL, NULL, 1) AS nack;
SELECT public.pgq_discard('public.sp_jobs', :'id3', NULL, 1) AS discard;
SELECT public.pgq_ack_batch('public.sp_jobs', ARRAY[:'id4']::pg_catalog.uuid[]) AS ack_batch;
-- second attempt at n = 2 used up: nack makes it dead
BEGIN;
UPDATE public.sp_jobs SET locked_until = NULL WHERE id OPERATOR(pg_catalog.=) :'id2';
SELECT payload, attempt FROM public.pgq_consume('public.sp_jobs', 10);
SELECT public.pgq_nack('public.sp_jobs', :'id2', NULL, NULL, 2) AS nack;
SELECT error_detail FROM public.sp_jobs WHERE id OPERATOR(pg_catalog.=) :'id2';
COMMIT;
SELECT public.pgq_requeue('public.sp_jobs') AS requeued;
-- an expired lease on its last attempt: reclaim makes it dead (in one
-- transaction, so that the background worker cannot get there first)
BEGIN;
SELECT payload, attempt FROM public.pgq_consume('public.sp_jobs', 10) ORDER BY payload;
SELECT payload, attempt FROM public.pgq_consume('public.sp_jobs', 10);
UPDATE public.sp_jobs SET locked_until = pg_catalog.now() OPERATOR(pg_catalog.-) '1 minute'::pg_catalog.interval,
	consumed_count = 2 WHERE id OPERATOR(pg_catalog.=) :'id2';
SELECT public.pgq_reclaim('public.sp_jobs') AS reclaimed;
SELECT error_detail FROM public.sp_jobs WHERE id OPERATOR(pg_catalog.=) :'id2';
SELECT public.pgq_reclaim() IS NOT NULL AS reclaimed_all;
COMMIT;
SELECT public.pgq_purge('public.sp_jobs', '0') AS purged;

-- retention 0: ack deletes; a registered Go table gets pgq's id default
SELECT count(*) FROM public.pgq_publish_batch('public.sp_keep', ARRAY['{"n": 1}', '{"n": 2}']::pg_catalog.jsonb[]);
SELECT public.pgq_ack_batch('public.sp_keep', ARRAY(SELECT c.id FROM public.pgq_consume('public.sp_keep', 10) c)) AS acked;
SELECT count(*) FROM public.pgq_publish_batch('public.sp_go', ARRAY['{"n": 1}', '{"n": 2}']::pg_catalog.jsonb[]);
SELECT count(*) FROM public.pgq_consume('public.sp_go', 10);

-- notify on: publish sends NOTIFY at commit
SELECT public.pgq_alter_queue('public.sp_keep', notify => true);
SELECT public.pgq_publish('public.sp_keep', '{"n": 3}') IS NOT NULL AS published;
SELECT public.pgq_alter_queue('public.sp_keep', notify => false);

-- monitoring
SELECT queue, max_attempts, lock_duration, retry_delay, retention, unlogged, notify
FROM public.pgq_queues WHERE queue_name OPERATOR(pg_catalog.~~) 'sp\_%' ORDER BY queue_name;
SELECT queue_name, scheduled, in_flight, expired_leases
FROM public.pgq_queue_stats WHERE queue_name OPERATOR(pg_catalog.~~) 'sp\_%' ORDER BY queue_name;
SELECT queue, attempt, lease_holder IS NOT NULL AS holder
FROM public.pgq_in_flight WHERE queue OPERATOR(pg_catalog.=) 'public.sp_jobs'::pg_catalog.regclass;
SELECT queue, attempt, state, error_detail
FROM public.pgq_failures WHERE queue OPERATOR(pg_catalog.=) 'public.sp_jobs'::pg_catalog.regclass;
SELECT queue, error_detail, messages, dead
FROM public.pgq_failure_summary WHERE queue OPERATOR(pg_catalog.=) 'public.sp_jobs'::pg_catalog.regclass;
SELECT count(*) IS NOT NULL AS activity FROM public.pgq_queue_activity('public.sp_jobs');
SELECT count(*) IS NOT NULL AS history FROM public.pgq_queue_history;
SELECT public.pgq_report('public.sp_jobs') IS NOT NULL AS report;
SELECT public.pgq_sparkline(ARRAY[1, 2, 4, NULL, 8]::pg_catalog.float8[]) AS sparkline;
SELECT count(*) > 0 AS has_workers FROM public.pgq_workers;

-- results, read with a clean search_path
RESET search_path;
SELECT payload->>'n' AS n, consumed_count, processed_at IS NOT NULL AS finished, error_detail,
	   locked_until IS NOT NULL AS leased, lease_holder IS NOT NULL AS holder,
	   locked_until > now() + '30 minutes' AS long_lease
FROM public.sp_jobs ORDER BY n;
SELECT count(*) AS kept, count(DISTINCT id) AS distinct_ids,
	   count(*) FILTER (WHERE id = '00000000-0000-0000-0000-000000000000') AS nil_ids,
	   count(*) FILTER (WHERE created_at < '2001-01-01') AS old_clock
FROM (SELECT id, created_at FROM public.sp_jobs UNION ALL SELECT id, created_at FROM public.sp_go
	  UNION ALL SELECT id, created_at FROM public.sp_keep) s;
SELECT payload, consumed_count FROM public.sp_keep;
SELECT pg_get_expr(adbin, adrelid) AS sp_go_id_default FROM pg_attrdef
WHERE adrelid = 'public.sp_go'::regclass AND adnum = 1;
SELECT what, count(*) FROM sp_tripwire GROUP BY what ORDER BY what;

SET search_path = evil, pg_temp, public;
SELECT public.pgq_drop_queue('public.sp_jobs');
SELECT public.pgq_drop_queue('public.sp_keep');
SELECT public.pgq_drop_queue('public.sp_go');
RESET search_path;
SELECT count(*) AS queues_left FROM pgq_queues WHERE queue_name LIKE 'sp\_%';
SELECT what, count(*) FROM sp_tripwire GROUP BY what ORDER BY what;

--
-- search_path = pg_temp, evil, public
--
SET search_path = pg_temp, evil, public;

-- queue DDL
SELECT public.pgq_create_queue('public.sp_jobs', max_attempts => 2, retry_delay => '1 second');
SELECT public.pgq_create_queue('public.sp_keep', retention => '0');
CREATE TABLE public.sp_go (
	id pg_catalog.uuid NOT NULL, created_at pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
	started_at pg_catalog.timestamptz, locked_until pg_catalog.timestamptz,
	scheduled_for pg_catalog.timestamptz, processed_at pg_catalog.timestamptz,
	consumed_count pg_catalog.int4 NOT NULL DEFAULT 0, error_detail pg_catalog.text,
	payload pg_catalog.jsonb NOT NULL, metadata pg_catalog.jsonb NOT NULL DEFAULT '{}');
SELECT public.pgq_register_queue('public.sp_go', max_attempts => 1);
SELECT public.pgq_alter_queue('public.sp_jobs', lock_duration => '1 hour', unlogged => true);
SELECT public.pgq_alter_queue('public.sp_jobs', unlogged => false);
SELECT public.pgq_grant('public.sp_jobs', 'regress_sec_attacker', 'consume');
SELECT public.pgq_revoke('public.sp_jobs', 'regress_sec_attacker', 'consume');
SELECT public.pgq_grant('public.sp_jobs', 'regress_sec_attacker', 'admin');
SELECT public.pgq_revoke('public.sp_jobs', 'regress_sec_attacker', 'admin');

-- an unqualified queue name means what regclass input says: the planted
-- table, which is no queue (whatever a look-alike catalog claims)
SELECT public.pgq_publish('sp_jobs', '{"n": 0}');
SELECT * FROM public.pgq_consume('sp_jobs');

-- messages
SELECT public.pgq_publish('public.sp_jobs', '{"n": 1}', '{"k": "v"}') AS id1 \gset
SELECT count(*) FROM public.pgq_publish_batch('public.sp_jobs',
	ARRAY['{"n": 2}', '{"n": 3}', '{"n": 4}']::pg_catalog.jsonb[], '{"k": "w"}');
SELECT count(*) FROM public.pgq_publish('public.sp_jobs', '{"n": 5}', '{}', '2999-01-01 00:00:00+00');
SELECT payload, metadata, attempt FROM public.pgq_consume('public.sp_jobs', 1, metadata_filter => '{"k": "v"}');
SELECT payload, attempt FROM public.pgq_consume('public.sp_jobs', 10) ORDER BY payload;
SELECT public.pgq_extend('public.sp_jobs', :'id1', '2 hours', 1) IS NOT NULL AS extended;
SELECT public.pgq_ack('public.sp_jobs', :'id1', 2) AS ack_wrong_attempt,
	   public.pgq_ack('public.sp_jobs', :'id1', 1) AS ack;
SELECT id AS id2 FROM public.sp_jobs WHERE payload OPERATOR(pg_catalog.=) '{"n": 2}' \gset
SELECT id AS id3 FROM public.sp_jobs WHERE payload OPERATOR(pg_catalog.=) '{"n": 3}' \gset
SELECT id AS id4 FROM public.sp_jobs WHERE payload OPERATOR(pg_catalog.=) '{"n": 4}' \gset
-- nack with the default back-off (retry_delay * 2^(attempt-1))
SELECT public.pgq_nack('public.sp_jobs', :'id2', NULL, NULL, 1) AS nack;
SELECT public.pgq_discard('public.sp_jobs', :'id3', NULL, 1) AS discard;
SELECT public.pgq_ack_batch('public.sp_jobs', ARRAY[:'id4']::pg_catalog.uuid[]) AS ack_batch;
-- second attempt at n = 2 used up: nack makes it dead
BEGIN;
UPDATE public.sp_jobs SET locked_until = NULL WHERE id OPERATOR(pg_catalog.=) :'id2';
SELECT payload, attempt FROM public.pgq_consume('public.sp_jobs', 10);
SELECT public.pgq_nack('public.sp_jobs', :'id2', NULL, NULL, 2) AS nack;
SELECT error_detail FROM public.sp_jobs WHERE id OPERATOR(pg_catalog.=) :'id2';
COMMIT;
SELECT public.pgq_requeue('public.sp_jobs') AS requeued;
-- an expired lease on its last attempt: reclaim makes it dead (in one
-- transaction, so that the background worker cannot get there first)
BEGIN;
SELECT payload, attempt FROM public.pgq_consume('public.sp_jobs', 10) ORDER BY payload;
SELECT payload, attempt FROM public.pgq_consume('public.sp_jobs', 10);
UPDATE public.sp_jobs SET locked_until = pg_catalog.now() OPERATOR(pg_catalog.-) '1 minute'::pg_catalog.interval,
	consumed_count = 2 WHERE id OPERATOR(pg_catalog.=) :'id2';
SELECT public.pgq_reclaim('public.sp_jobs') AS reclaimed;
SELECT error_detail FROM public.sp_jobs WHERE id OPERATOR(pg_catalog.=) :'id2';
SELECT public.pgq_reclaim() IS NOT NULL AS reclaimed_all;
COMMIT;
SELECT public.pgq_purge('public.sp_jobs', '0') AS purged;

-- retention 0: ack deletes; a registered Go table gets pgq's id default
SELECT count(*) FROM public.pgq_publish_batch('public.sp_keep', ARRAY['{"n": 1}', '{"n": 2}']::pg_catalog.jsonb[]);
SELECT public.pgq_ack_batch('public.sp_keep', ARRAY(SELECT c.id FROM public.pgq_consume('public.sp_keep', 10) c)) AS acked;
SELECT count(*) FROM public.pgq_publish_batch('public.sp_go', ARRAY['{"n": 1}', '{"n": 2}']::pg_catalog.jsonb[]);
SELECT count(*) FROM public.pgq_consume('public.sp_go', 10);

-- notify on: publish sends NOTIFY at commit
SELECT public.pgq_alter_queue('public.sp_keep', notify => true);
SELECT public.pgq_publish('public.sp_keep', '{"n": 3}') IS NOT NULL AS published;
SELECT public.pgq_alter_queue('public.sp_keep', notify => false);

-- monitoring
SELECT queue, max_attempts, lock_duration, retry_delay, retention, unlogged, notify
FROM public.pgq_queues WHERE queue_name OPERATOR(pg_catalog.~~) 'sp\_%' ORDER BY queue_name;
SELECT queue_name, scheduled, in_flight, expired_leases
FROM public.pgq_queue_stats WHERE queue_name OPERATOR(pg_catalog.~~) 'sp\_%' ORDER BY queue_name;
SELECT queue, attempt, lease_holder IS NOT NULL AS holder
FROM public.pgq_in_flight WHERE queue OPERATOR(pg_catalog.=) 'public.sp_jobs'::pg_catalog.regclass;
SELECT queue, attempt, state, error_detail
FROM public.pgq_failures WHERE queue OPERATOR(pg_catalog.=) 'public.sp_jobs'::pg_catalog.regclass;
SELECT queue, error_detail, messages, dead
FROM public.pgq_failure_summary WHERE queue OPERATOR(pg_catalog.=) 'public.sp_jobs'::pg_catalog.regclass;
SELECT count(*) IS NOT NULL AS activity FROM public.pgq_queue_activity('public.sp_jobs');
SELECT count(*) IS NOT NULL AS history FROM public.pgq_queue_history;
SELECT public.pgq_report('public.sp_jobs') IS NOT NULL AS report;
SELECT public.pgq_sparkline(ARRAY[1, 2, 4, NULL, 8]::pg_catalog.float8[]) AS sparkline;
SELECT count(*) > 0 AS has_workers FROM public.pgq_workers;

-- results, read with a clean search_path
RESET search_path;
SELECT payload->>'n' AS n, consumed_count, processed_at IS NOT NULL AS finished, error_detail,
	   locked_until IS NOT NULL AS leased, lease_holder IS NOT NULL AS holder,
	   locked_until > now() + '30 minutes' AS long_lease
FROM public.sp_jobs ORDER BY n;
SELECT count(*) AS kept, count(DISTINCT id) AS distinct_ids,
	   count(*) FILTER (WHERE id = '00000000-0000-0000-0000-000000000000') AS nil_ids,
	   count(*) FILTER (WHERE created_at < '2001-01-01') AS old_clock
FROM (SELECT id, created_at FROM public.sp_jobs UNION ALL SELECT id, created_at FROM public.sp_go
	  UNION ALL SELECT id, created_at FROM public.sp_keep) s;
SELECT payload, consumed_count FROM public.sp_keep;
SELECT pg_get_expr(adbin, adrelid) AS sp_go_id_default FROM pg_attrdef
WHERE adrelid = 'public.sp_go'::regclass AND adnum = 1;
SELECT what, count(*) FROM sp_tripwire GROUP BY what ORDER BY what;

SET search_path = pg_temp, evil, public;
SELECT public.pgq_drop_queue('public.sp_jobs');
SELECT public.pgq_drop_queue('public.sp_keep');
SELECT public.pgq_drop_queue('public.sp_go');
RESET search_path;
SELECT count(*) AS queues_left FROM pgq_queues WHERE queue_name LIKE 'sp\_%';
SELECT what, count(*) FROM sp_tripwire GROUP BY what ORDER BY what;

--
-- search_path = evil, pg_catalog, pg_temp, public
--
SET search_path = evil, pg_catalog, pg_temp, public;

-- queue DDL
SELECT public.pgq_create_queue('public.sp_jobs', max_attempts => 2, retry_delay => '1 second');
SELECT public.pgq_create_queue('public.sp_keep', retention => '0');
CREATE TABLE public.sp_go (
	id pg_catalog.uuid NOT NULL, created_at pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
	started_at pg_catalog.timestamptz, locked_until pg_catalog.timestamptz,
	scheduled_for pg_catalog.timestamptz, processed_at pg_catalog.timestamptz,
	consumed_count pg_catalog.int4 NOT NULL DEFAULT 0, error_detail pg_catalog.text,
	payload pg_catalog.jsonb NOT NULL, metadata pg_catalog.jsonb NOT NULL DEFAULT '{}');
SELECT public.pgq_register_queue('public.sp_go', max_attempts => 1);
SELECT public.pgq_alter_queue('public.sp_jobs', lock_duration => '1 hour', unlogged => true);
SELECT public.pgq_alter_queue('public.sp_jobs', unlogged => false);
SELECT public.pgq_grant('public.sp_jobs', 'regress_sec_attacker', 'consume');
SELECT public.pgq_revoke('public.sp_jobs', 'regress_sec_attacker', 'consume');
SELECT public.pgq_grant('public.sp_jobs', 'regress_sec_attacker', 'admin');
SELECT public.pgq_revoke('public.sp_jobs', 'regress_sec_attacker', 'admin');

-- an unqualified queue name means what regclass input says: the planted
-- table, which is no queue (whatever a look-alike catalog claims)
SELECT public.pgq_publish('sp_jobs', '{"n": 0}');
SELECT * FROM public.pgq_consume('sp_jobs');

-- messages
SELECT public.pgq_publish('public.sp_jobs', '{"n": 1}', '{"k": "v"}') AS id1 \gset
SELECT count(*) FROM public.pgq_publish_batch('public.sp_jobs',
	ARRAY['{"n": 2}', '{"n": 3}', '{"n": 4}']::pg_catalog.jsonb[], '{"k": "w"}');
SELECT count(*) FROM public.pgq_publish('public.sp_jobs', '{"n": 5}', '{}', '2999-01-01 00:00:00+00');
SELECT payload, metadata, attempt FROM public.pgq_consume('public.sp_jobs', 1, metadata_filter => '{"k": "v"}');
SELECT payload, attempt FROM public.pgq_consume('public.sp_jobs', 10) ORDER BY payload;
SELECT public.pgq_extend('public.sp_jobs', :'id1', '2 hours', 1) IS NOT NULL AS extended;
SELECT public.pgq_ack('public.sp_jobs', :'id1', 2) AS ack_wrong_attempt,
	   public.pgq_ack('public.sp_jobs', :'id1', 1) AS ack;
SELECT id AS id2 FROM public.sp_jobs WHERE payload OPERATOR(pg_catalog.=) '{"n": 2}' \gset
SELECT id AS id3 FROM public.sp_jobs WHERE payload OPERATOR(pg_catalog.=) '{"n": 3}' \gset
SELECT id AS id4 FROM public.sp_jobs WHERE payload OPERATOR(pg_catalog.=) '{"n": 4}' \gset
-- nack with the default back-off (retry_delay * 2^(attempt-1))
SELECT public.pgq_nack('public.sp_jobs', :'id2', NULL, NULL, 1) AS nack;
SELECT public.pgq_discard('public.sp_jobs', :'id3', NULL, 1) AS discard;
SELECT public.pgq_ack_batch('public.sp_jobs', ARRAY[:'id4']::pg_catalog.uuid[]) AS ack_batch;
-- second attempt at n = 2 used up: nack makes it dead
BEGIN;
UPDATE public.sp_jobs SET locked_until = NULL WHERE id OPERATOR(pg_catalog.=) :'id2';
SELECT payload, attempt FROM public.pgq_consume('public.sp_jobs', 10);
SELECT public.pgq_nack('public.sp_jobs', :'id2', NULL, NULL, 2) AS nack;
SELECT error_detail FROM public.sp_jobs WHERE id OPERATOR(pg_catalog.=) :'id2';
COMMIT;
SELECT public.pgq_requeue('public.sp_jobs') AS requeued;
-- an expired lease on its last attempt: reclaim makes it dead (in one
-- transaction, so that the background worker cannot get there first)
BEGIN;
SELECT payload, attempt FROM public.pgq_consume('public.sp_jobs', 10) ORDER BY payload;
SELECT payload, attempt FROM public.pgq_consume('public.sp_jobs', 10);
UPDATE public.sp_jobs SET locked_until = pg_catalog.now() OPERATOR(pg_catalog.-) '1 minute'::pg_catalog.interval,
	consumed_count = 2 WHERE id OPERATOR(pg_catalog.=) :'id2';
SELECT public.pgq_reclaim('public.sp_jobs') AS reclaimed;
SELECT error_detail FROM public.sp_jobs WHERE id OPERATOR(pg_catalog.=) :'id2';
SELECT public.pgq_reclaim() IS NOT NULL AS reclaimed_all;
COMMIT;
SELECT public.pgq_purge('public.sp_jobs', '0') AS purged;

-- retention 0: ack deletes; a registered Go table gets pgq's id default
SELECT count(*) FROM public.pgq_publish_batch('public.sp_keep', ARRAY['{"n": 1}', '{"n": 2}']::pg_catalog.jsonb[]);
SELECT public.pgq_ack_batch('public.sp_keep', ARRAY(SELECT c.id FROM public.pgq_consume('public.sp_keep', 10) c)) AS acked;
SELECT count(*) FROM public.pgq_publish_batch('public.sp_go', ARRAY['{"n": 1}', '{"n": 2}']::pg_catalog.jsonb[]);
SELECT count(*) FROM public.pgq_consume('public.sp_go', 10);

-- notify on: publish sends NOTIFY at commit
SELECT public.pgq_alter_queue('public.sp_keep', notify => true);
SELECT public.pgq_publish('public.sp_keep', '{"n": 3}') IS NOT NULL AS published;
SELECT public.pgq_alter_queue('public.sp_keep', notify => false);

-- monitoring
SELECT queue, max_attempts, lock_duration, retry_delay, retention, unlogged, notify
FROM public.pgq_queues WHERE queue_name OPERATOR(pg_catalog.~~) 'sp\_%' ORDER BY queue_name;
SELECT queue_name, scheduled, in_flight, expired_leases
FROM public.pgq_queue_stats WHERE queue_name OPERATOR(pg_catalog.~~) 'sp\_%' ORDER BY queue_name;
SELECT queue, attempt, lease_holder IS NOT NULL AS holder
FROM public.pgq_in_flight WHERE queue OPERATOR(pg_catalog.=) 'public.sp_jobs'::pg_catalog.regclass;
SELECT queue, attempt, state, error_detail
FROM public.pgq_failures WHERE queue OPERATOR(pg_catalog.=) 'public.sp_jobs'::pg_catalog.regclass;
SELECT queue, error_detail, messages, dead
FROM public.pgq_failure_summary WHERE queue OPERATOR(pg_catalog.=) 'public.sp_jobs'::pg_catalog.regclass;
SELECT count(*) IS NOT NULL AS activity FROM public.pgq_queue_activity('public.sp_jobs');
SELECT count(*) IS NOT NULL AS history FROM public.pgq_queue_history;
SELECT public.pgq_report('public.sp_jobs') IS NOT NULL AS report;
SELECT public.pgq_sparkline(ARRAY[1, 2, 4, NULL, 8]::pg_catalog.float8[]) AS sparkline;
SELECT count(*) > 0 AS has_workers FROM public.pgq_workers;

-- results, read with a clean search_path
RESET search_path;
SELECT payload->>'n' AS n, consumed_count, processed_at IS NOT NULL AS finished, error_detail,
	   locked_until IS NOT NULL AS leased, lease_holder IS NOT NULL AS holder,
	   locked_until > now() + '30 minutes' AS long_lease
FROM public.sp_jobs ORDER BY n;
SELECT count(*) AS kept, count(DISTINCT id) AS distinct_ids,
	   count(*) FILTER (WHERE id = '00000000-0000-0000-0000-000000000000') AS nil_ids,
	   count(*) FILTER (WHERE created_at < '2001-01-01') AS old_clock
FROM (SELECT id, created_at FROM public.sp_jobs UNION ALL SELECT id, created_at FROM public.sp_go
	  UNION ALL SELECT id, created_at FROM public.sp_keep) s;
SELECT payload, consumed_count FROM public.sp_keep;
SELECT pg_get_expr(adbin, adrelid) AS sp_go_id_default FROM pg_attrdef
WHERE adrelid = 'public.sp_go'::regclass AND adnum = 1;
SELECT what, count(*) FROM sp_tripwire GROUP BY what ORDER BY what;

SET search_path = evil, pg_catalog, pg_temp, public;
SELECT public.pgq_drop_queue('public.sp_jobs');
SELECT public.pgq_drop_queue('public.sp_keep');
SELECT public.pgq_drop_queue('public.sp_go');
RESET search_path;
SELECT count(*) AS queues_left FROM pgq_queues WHERE queue_name LIKE 'sp\_%';
SELECT what, count(*) FROM sp_tripwire GROUP BY what ORDER BY what;

-- a temporary table is no queue: pgq's catalog outlives it, and the
-- background worker cannot read another session's temporary tables.
-- Refused with pg_temp first in the path, and named explicitly.
SET search_path = pg_temp, public;
SELECT public.pgq_create_queue('sp_temp');
SELECT public.pgq_create_queue('pg_temp.sp_temp2');
RESET search_path;
CREATE TEMP TABLE sp_temp_go (
	id uuid, created_at timestamptz, started_at timestamptz, locked_until timestamptz,
	scheduled_for timestamptz, processed_at timestamptz, consumed_count int,
	error_detail text, payload jsonb, metadata jsonb);
SELECT public.pgq_register_queue('pg_temp.sp_temp_go');
SELECT count(*) AS temporary_queues FROM public.pgq_queues WHERE queue_schema LIKE 'pg\_temp\_%';
SET client_min_messages = warning;
DROP TABLE IF EXISTS pg_temp.sp_temp, pg_temp.sp_temp2, pg_temp.sp_temp_go;
RESET client_min_messages;
-- the planted objects are all still there, untouched
SELECT count(*) FROM evil.sp_jobs;
SELECT count(*) FROM pg_temp.sp_jobs;
SELECT count(*) FROM pg_temp.pgq_queue_config;

-- clean up
SET client_min_messages = warning;
DROP SCHEMA evil CASCADE;
DROP OWNED BY regress_sec_attacker;
DROP ROLE regress_sec_attacker;
DROP TABLE sp_tripwire;
