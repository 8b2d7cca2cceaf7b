/* pgq--1.0.sql: durable job queues in plain tables */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pgq" to load this file. \quit

/*
 * Security: every object is created schema-qualified in @extschema@, every
 * reference to a built-in is pg_catalog-qualified, functions run as the
 * caller (SECURITY INVOKER) except the event trigger function, which pins
 * its search_path.  Nothing is created with OR REPLACE or IF NOT EXISTS, so
 * no object planted by someone else is adopted.
 */

-- Refuse a schema that someone other than a superuser owns or may create
-- objects in: such a role could plant look-alikes of pgq's objects or of
-- the built-ins they call (CVE-2018-1058, CVE-2023-39417).
DO $pgq_check$
DECLARE
	schema_owner pg_catalog.oid;
BEGIN
	SELECT CASE WHEN n.nspowner OPERATOR(pg_catalog.=) 'pg_database_owner'::pg_catalog.regrole
				THEN d.datdba ELSE n.nspowner END
	  INTO schema_owner
	  FROM pg_catalog.pg_namespace n, pg_catalog.pg_database d
	 WHERE n.oid OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
	   AND d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database();
	IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) schema_owner) THEN
		RAISE EXCEPTION 'cannot install pgq into schema "%": it is owned by non-superuser role "%"',
			'@extschema@', pg_catalog.pg_get_userbyid(schema_owner)
			USING ERRCODE = '42501',
				  HINT = 'Create a schema owned by a superuser and install there: CREATE SCHEMA pgq; CREATE EXTENSION pgq SCHEMA pgq;';
	END IF;
	IF EXISTS (SELECT 1
				 FROM pg_catalog.pg_namespace n
					  CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) a
					  CROSS JOIN pg_catalog.pg_database d
				WHERE n.oid OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
				  AND d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()
				  AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
				  AND (a.grantee OPERATOR(pg_catalog.=) 0
					   OR NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r
								WHERE r.oid OPERATOR(pg_catalog.=)
									  CASE WHEN a.grantee OPERATOR(pg_catalog.=) 'pg_database_owner'::pg_catalog.regrole
										   THEN d.datdba ELSE a.grantee END))) THEN
		RAISE EXCEPTION 'cannot install pgq into schema "%": roles that are not superusers may create objects in it',
			'@extschema@'
			USING ERRCODE = '42501',
				  HINT = 'Revoke CREATE on the schema from them, or install pgq into a schema only superusers can write: CREATE SCHEMA pgq; CREATE EXTENSION pgq SCHEMA pgq;';
	END IF;
END
$pgq_check$;

-- The catalog of queues: one row per queue table, with its settings.
CREATE TABLE @extschema@.pgq_queue_config (
	queue pg_catalog.regclass NOT NULL,
	max_attempts pg_catalog.int4 NOT NULL DEFAULT 3,
	lock_duration pg_catalog.interval NOT NULL DEFAULT '1 hour',
	retry_delay pg_catalog.interval NOT NULL DEFAULT '0',
	retention pg_catalog.interval,
	created_at pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT pgq_queue_config_pkey PRIMARY KEY (queue),
	CONSTRAINT pgq_queue_config_max_attempts_check
		CHECK (max_attempts OPERATOR(pg_catalog.>=) 0),
	CONSTRAINT pgq_queue_config_lock_duration_check
		CHECK (lock_duration OPERATOR(pg_catalog.>) '0'::pg_catalog.interval),
	CONSTRAINT pgq_queue_config_retry_delay_check
		CHECK (retry_delay OPERATOR(pg_catalog.>=) '0'::pg_catalog.interval),
	CONSTRAINT pgq_queue_config_retention_check
		CHECK (retention OPERATOR(pg_catalog.>=) '0'::pg_catalog.interval)
);
COMMENT ON TABLE @extschema@.pgq_queue_config IS
	'pgq catalog: one row per queue table and its settings; change it with pgq_create_queue, pgq_alter_queue, pgq_register_queue and pgq_drop_queue';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.pgq_queue_config', '');
REVOKE ALL ON @extschema@.pgq_queue_config FROM PUBLIC;

-- Forget the settings of queue tables dropped by any means.
CREATE FUNCTION @extschema@.pgq_forget_dropped_queues()
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
END
$$;
REVOKE ALL ON FUNCTION @extschema@.pgq_forget_dropped_queues() FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.pgq_forget_dropped_queues() IS
	'event trigger: removes the pgq_queue_config row of a dropped queue table';
CREATE EVENT TRIGGER pgq_forget_dropped_queues ON sql_drop
	EXECUTE FUNCTION @extschema@.pgq_forget_dropped_queues();

-- Queues ---------------------------------------------------------------

CREATE FUNCTION @extschema@.pgq_create_queue(
	queue pg_catalog.text,
	max_attempts pg_catalog.int4 DEFAULT 3,
	lock_duration pg_catalog.interval DEFAULT '1 hour',
	retry_delay pg_catalog.interval DEFAULT '0',
	retention pg_catalog.interval DEFAULT NULL,
	unlogged pg_catalog.bool DEFAULT false)
RETURNS pg_catalog.regclass
AS 'MODULE_PATHNAME', 'pgq_create_queue'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pgq_create_queue(pg_catalog.text, pg_catalog.int4, pg_catalog.interval, pg_catalog.interval, pg_catalog.interval, pg_catalog.bool) IS
	'create a queue table (name read as regclass input reads it) and register it; max_attempts 0 = no limit; retention NULL = keep finished rows until purged';

CREATE FUNCTION @extschema@.pgq_register_queue(
	queue pg_catalog.regclass,
	max_attempts pg_catalog.int4 DEFAULT 3,
	lock_duration pg_catalog.interval DEFAULT '1 hour',
	retry_delay pg_catalog.interval DEFAULT '0',
	retention pg_catalog.interval DEFAULT NULL)
RETURNS pg_catalog.regclass
AS 'MODULE_PATHNAME', 'pgq_register_queue'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pgq_register_queue(pg_catalog.regclass, pg_catalog.int4, pg_catalog.interval, pg_catalog.interval, pg_catalog.interval) IS
	'adopt an existing table of the dataddo/pgq shape as a queue: checks its columns, adds lease_holder, available_at and pgq''s indexes';

CREATE FUNCTION @extschema@.pgq_alter_queue(
	queue pg_catalog.regclass,
	max_attempts pg_catalog.int4 DEFAULT NULL,
	lock_duration pg_catalog.interval DEFAULT NULL,
	retry_delay pg_catalog.interval DEFAULT NULL,
	retention pg_catalog.interval DEFAULT NULL,
	unlogged pg_catalog.bool DEFAULT NULL,
	reset_retention pg_catalog.bool DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'pgq_alter_queue'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pgq_alter_queue(pg_catalog.regclass, pg_catalog.int4, pg_catalog.interval, pg_catalog.interval, pg_catalog.interval, pg_catalog.bool, pg_catalog.bool) IS
	'change a queue''s settings; NULL leaves a setting unchanged; reset_retention => true keeps finished rows again';

CREATE FUNCTION @extschema@.pgq_drop_queue(queue pg_catalog.regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'pgq_drop_queue'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pgq_drop_queue(pg_catalog.regclass) IS
	'drop a queue table and its settings';

-- Messages -------------------------------------------------------------

CREATE FUNCTION @extschema@.pgq_publish(
	queue pg_catalog.regclass,
	payload pg_catalog.jsonb,
	metadata pg_catalog.jsonb DEFAULT '{}',
	scheduled_for pg_catalog.timestamptz DEFAULT NULL)
RETURNS pg_catalog.uuid
AS 'MODULE_PATHNAME', 'pgq_publish'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pgq_publish(pg_catalog.regclass, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.timestamptz) IS
	'publish one message in the caller''s transaction; returns its id';

CREATE FUNCTION @extschema@.pgq_publish_batch(
	queue pg_catalog.regclass,
	payloads pg_catalog.jsonb[],
	metadata pg_catalog.jsonb DEFAULT '{}',
	scheduled_for pg_catalog.timestamptz DEFAULT NULL)
RETURNS SETOF pg_catalog.uuid
AS 'MODULE_PATHNAME', 'pgq_publish_batch'
LANGUAGE C VOLATILE ROWS 100;
COMMENT ON FUNCTION @extschema@.pgq_publish_batch(pg_catalog.regclass, pg_catalog.jsonb[], pg_catalog.jsonb, pg_catalog.timestamptz) IS
	'publish many messages in one statement; returns their ids in array order';

CREATE FUNCTION @extschema@.pgq_consume(
	queue pg_catalog.regclass,
	batch_size pg_catalog.int4 DEFAULT 1,
	lock_duration pg_catalog.interval DEFAULT NULL,
	wait pg_catalog.interval DEFAULT '0',
	metadata_filter pg_catalog.jsonb DEFAULT NULL)
RETURNS TABLE (
	id pg_catalog.uuid,
	payload pg_catalog.jsonb,
	metadata pg_catalog.jsonb,
	attempt pg_catalog.int4,
	locked_until pg_catalog.timestamptz,
	created_at pg_catalog.timestamptz)
AS 'MODULE_PATHNAME', 'pgq_consume'
LANGUAGE C VOLATILE ROWS 10;
COMMENT ON FUNCTION @extschema@.pgq_consume(pg_catalog.regclass, pg_catalog.int4, pg_catalog.interval, pg_catalog.interval, pg_catalog.jsonb) IS
	'lease up to batch_size ready messages, oldest first, skipping rows other consumers hold; attempt is the fencing token for ack, nack, discard and extend';

CREATE FUNCTION @extschema@.pgq_ack(
	queue pg_catalog.regclass,
	id pg_catalog.uuid,
	attempt pg_catalog.int4 DEFAULT NULL)
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'pgq_ack'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pgq_ack(pg_catalog.regclass, pg_catalog.uuid, pg_catalog.int4) IS
	'finish a message as done; with attempt, only while that lease is held; false when nothing changed';

CREATE FUNCTION @extschema@.pgq_nack(
	queue pg_catalog.regclass,
	id pg_catalog.uuid,
	error pg_catalog.text DEFAULT NULL,
	retry_after pg_catalog.interval DEFAULT NULL,
	attempt pg_catalog.int4 DEFAULT NULL)
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'pgq_nack'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pgq_nack(pg_catalog.regclass, pg_catalog.uuid, pg_catalog.text, pg_catalog.interval, pg_catalog.int4) IS
	'give a message back for a retry after retry_after (default: retry_delay doubled per earlier attempt), or dead when attempts are used up';

CREATE FUNCTION @extschema@.pgq_discard(
	queue pg_catalog.regclass,
	id pg_catalog.uuid,
	error pg_catalog.text DEFAULT NULL,
	attempt pg_catalog.int4 DEFAULT NULL)
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'pgq_discard'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pgq_discard(pg_catalog.regclass, pg_catalog.uuid, pg_catalog.text, pg_catalog.int4) IS
	'finish a message as dead at once, with the reason';

CREATE FUNCTION @extschema@.pgq_extend(
	queue pg_catalog.regclass,
	id pg_catalog.uuid,
	lock_duration pg_catalog.interval,
	attempt pg_catalog.int4 DEFAULT NULL)
RETURNS pg_catalog.timestamptz
AS 'MODULE_PATHNAME', 'pgq_extend'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pgq_extend(pg_catalog.regclass, pg_catalog.uuid, pg_catalog.interval, pg_catalog.int4) IS
	'make a held lease end lock_duration from now; returns the new end, NULL when the lease is not held';

CREATE FUNCTION @extschema@.pgq_ack_batch(
	queue pg_catalog.regclass,
	ids pg_catalog.uuid[])
RETURNS pg_catalog.int4
AS 'MODULE_PATHNAME', 'pgq_ack_batch'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pgq_ack_batch(pg_catalog.regclass, pg_catalog.uuid[]) IS
	'finish many messages as done (unfenced); returns how many were finished';

CREATE FUNCTION @extschema@.pgq_requeue(
	queue pg_catalog.regclass,
	ids pg_catalog.uuid[] DEFAULT NULL)
RETURNS pg_catalog.int4
AS 'MODULE_PATHNAME', 'pgq_requeue'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pgq_requeue(pg_catalog.regclass, pg_catalog.uuid[]) IS
	'make dead messages ready again with their attempts reset; NULL ids = every dead message';

CREATE FUNCTION @extschema@.pgq_purge(
	queue pg_catalog.regclass,
	older_than pg_catalog.interval DEFAULT '0')
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'pgq_purge'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pgq_purge(pg_catalog.regclass, pg_catalog.interval) IS
	'delete finished (done and dead) messages finished at least older_than ago; returns how many';

CREATE FUNCTION @extschema@.pgq_reclaim(queue pg_catalog.regclass DEFAULT NULL)
RETURNS pg_catalog.int4
AS 'MODULE_PATHNAME', 'pgq_reclaim'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pgq_reclaim(pg_catalog.regclass) IS
	'sweep expired leases (to ready, or dead when attempts are used up) and finished rows past retention; NULL = every queue the caller may update';

-- Privileges -----------------------------------------------------------

CREATE FUNCTION @extschema@.pgq_grant(
	queue pg_catalog.regclass,
	role pg_catalog.name,
	privilege pg_catalog.text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgq_grant'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pgq_grant(pg_catalog.regclass, pg_catalog.name, pg_catalog.text) IS
	'grant a role exactly what publish, consume or admin on a queue needs (table privileges, schema usage, admin functions)';

CREATE FUNCTION @extschema@.pgq_revoke(
	queue pg_catalog.regclass,
	role pg_catalog.name,
	privilege pg_catalog.text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgq_revoke'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pgq_revoke(pg_catalog.regclass, pg_catalog.name, pg_catalog.text) IS
	'revoke what pgq_grant gave for publish, consume or admin (schema usage is left alone)';

-- DDL and admin helpers are not for everyone; message functions are, since
-- table privileges decide who may publish and consume.
REVOKE EXECUTE ON FUNCTION
	@extschema@.pgq_create_queue(pg_catalog.text, pg_catalog.int4, pg_catalog.interval, pg_catalog.interval, pg_catalog.interval, pg_catalog.bool),
	@extschema@.pgq_register_queue(pg_catalog.regclass, pg_catalog.int4, pg_catalog.interval, pg_catalog.interval, pg_catalog.interval),
	@extschema@.pgq_alter_queue(pg_catalog.regclass, pg_catalog.int4, pg_catalog.interval, pg_catalog.interval, pg_catalog.interval, pg_catalog.bool, pg_catalog.bool),
	@extschema@.pgq_drop_queue(pg_catalog.regclass),
	@extschema@.pgq_purge(pg_catalog.regclass, pg_catalog.interval),
	@extschema@.pgq_requeue(pg_catalog.regclass, pg_catalog.uuid[]),
	@extschema@.pgq_reclaim(pg_catalog.regclass),
	@extschema@.pgq_grant(pg_catalog.regclass, pg_catalog.name, pg_catalog.text),
	@extschema@.pgq_revoke(pg_catalog.regclass, pg_catalog.name, pg_catalog.text)
FROM PUBLIC;

-- Views ----------------------------------------------------------------

CREATE VIEW @extschema@.pgq_queues AS
SELECT c.queue,
	   n.nspname AS queue_schema,
	   r.relname AS queue_name,
	   c.max_attempts,
	   c.lock_duration,
	   c.retry_delay,
	   c.retention,
	   r.relpersistence OPERATOR(pg_catalog.=) 'u' AS unlogged,
	   c.created_at
FROM @extschema@.pgq_queue_config c
	 JOIN pg_catalog.pg_class r ON r.oid OPERATOR(pg_catalog.=) c.queue::pg_catalog.oid
	 JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) r.relnamespace
WHERE pg_catalog.has_table_privilege(c.queue::pg_catalog.oid, 'SELECT')
   OR pg_catalog.pg_has_role('pg_monitor', 'USAGE');
COMMENT ON VIEW @extschema@.pgq_queues IS
	'every queue the current role may read (all of them for pg_monitor members) and its settings';
GRANT SELECT ON @extschema@.pgq_queues TO PUBLIC;

CREATE FUNCTION @extschema@.pgq_worker_status(
	OUT database pg_catalog.text,
	OUT launcher_pid pg_catalog.int4,
	OUT worker_pid pg_catalog.int4,
	OUT last_run pg_catalog.timestamptz,
	OUT passes pg_catalog.int8,
	OUT last_reclaimed pg_catalog.int8,
	OUT last_deleted pg_catalog.int8,
	OUT total_reclaimed pg_catalog.int8,
	OUT total_deleted pg_catalog.int8,
	OUT last_error pg_catalog.text,
	OUT last_error_at pg_catalog.timestamptz,
	OUT status pg_catalog.text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgq_worker_status'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pgq_worker_status() IS
	'the background worker''s state per database, from shared memory (see the pgq_workers view)';

CREATE VIEW @extschema@.pgq_workers AS
SELECT * FROM @extschema@.pgq_worker_status();
COMMENT ON VIEW @extschema@.pgq_workers IS
	'the background worker per database: launcher and worker pids, last pass, messages reclaimed and finished rows deleted (last pass and since server start), last error, status';
GRANT SELECT ON @extschema@.pgq_workers TO PUBLIC;
