--
-- security_hostile_owner: the owner of a queue table is not trusted.
--
-- Whoever owns a queue table can attach code to it -- triggers, column
-- types with implicit casts, generation expressions -- and change its
-- shape after pgq checked it.  PostgreSQL runs a table's triggers as the
-- role writing to it, so a superuser must not be made to write to, or
-- evaluate expressions over, every queue without asking: what pgq does to
-- all queues at once (pgq_reclaim() with no queue, the monitoring views)
-- must never run a queue owner's code as the caller.  And pgq must never
-- serve a table whose columns no longer have the types its plans and C
-- code rely on.
--
\set VERBOSITY sqlstate
\set SHOW_CONTEXT never

CREATE ROLE regress_ho_owner;
CREATE SCHEMA ho AUTHORIZATION regress_ho_owner;
GRANT EXECUTE ON FUNCTION pgq_create_queue TO regress_ho_owner;
-- what the planted code records: who ran it, and whether a superuser
CREATE TABLE ho_trip (what text, who_is_owner bool, who_is_super bool);
GRANT INSERT, SELECT ON ho_trip TO PUBLIC;

SET ROLE regress_ho_owner;
CREATE FUNCTION ho.record(what text) RETURNS void
LANGUAGE sql AS $$
	INSERT INTO public.ho_trip
	SELECT what, current_user = 'regress_ho_owner', rolsuper FROM pg_roles WHERE rolname = current_user
$$;
CREATE FUNCTION ho.trap() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM ho.record(TG_NAME || ' ' || TG_OP);
	RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
RESET ROLE;

--
-- a trigger on a queue: a superuser sweeping every queue by hand (or from
-- a scheduler) must not run it as superuser.  The lease expires inside one
-- transaction, so that the background worker cannot sweep it first.
--
SET ROLE regress_ho_owner;
SELECT pgq_create_queue('ho.jobs', retention => '0');
RESET ROLE;
BEGIN;
SET ROLE regress_ho_owner;
SELECT count(*) FROM pgq_publish_batch('ho.jobs', ARRAY['{"n": 1}', '{"n": 2}']::jsonb[]);
SELECT count(*) FROM pgq_consume('ho.jobs', 1);
UPDATE ho.jobs SET locked_until = now() - interval '1 minute' WHERE locked_until IS NOT NULL;
UPDATE ho.jobs SET processed_at = now() - interval '1 minute', error_detail = 'old'
WHERE locked_until IS NULL;
CREATE TRIGGER trap BEFORE UPDATE OR DELETE ON ho.jobs
	FOR EACH ROW EXECUTE FUNCTION ho.trap();
RESET ROLE;
SELECT pgq_reclaim() IS NOT NULL AS swept;
SELECT count(*) FILTER (WHERE who_is_super) AS ran_as_superuser FROM ho_trip;
COMMIT;
TRUNCATE ho_trip;
DROP TRIGGER trap ON ho.jobs;

--
-- column types changed after pgq checked them: the table is no longer a
-- queue pgq can serve (its plans and C code rely on those types; reading
-- text as jsonb can crash the server)
--
SET ROLE regress_ho_owner;
SELECT pgq_create_queue('ho.retyped');
ALTER TABLE ho.retyped ALTER COLUMN payload TYPE text;
RESET ROLE;
SELECT pgq_publish('ho.retyped', '{"n": 1}');
SET ROLE regress_ho_owner;
ALTER TABLE ho.retyped ALTER COLUMN payload TYPE jsonb USING payload::jsonb;
ALTER TABLE ho.retyped ALTER COLUMN consumed_count TYPE bigint;
RESET ROLE;
SELECT pgq_publish('ho.retyped', '{"n": 1}');
SET ROLE regress_ho_owner;
ALTER TABLE ho.retyped ALTER COLUMN consumed_count TYPE int;
ALTER TABLE ho.retyped ALTER COLUMN id TYPE text;
RESET ROLE;
SELECT pgq_publish('ho.retyped', '{"n": 1}');
SET ROLE regress_ho_owner;
DELETE FROM ho.retyped;
ALTER TABLE ho.retyped ALTER COLUMN id TYPE uuid USING id::uuid;
RESET ROLE;
-- shape restored: served again
SELECT pgq_publish('ho.retyped', '{"n": 1}') IS NOT NULL AS published;

--
-- available_at replaced by a column of the owner's own type with an
-- implicit cast to timestamptz: every comparison pgq makes would run the
-- cast function as the caller.  Neither the monitoring views nor a
-- superuser's consume may run it as superuser.
--
SET ROLE regress_ho_owner;
SELECT pgq_create_queue('ho.castq');
CREATE TYPE ho.ts AS (v timestamptz);
CREATE FUNCTION ho.ts_to_timestamptz(ho.ts) RETURNS timestamptz
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM ho.record('cast');
	RETURN ($1).v;
END
$$;
CREATE CAST (ho.ts AS timestamptz) WITH FUNCTION ho.ts_to_timestamptz(ho.ts) AS IMPLICIT;
ALTER TABLE ho.castq DROP COLUMN available_at;
ALTER TABLE ho.castq ADD COLUMN available_at ho.ts;
INSERT INTO ho.castq (payload, available_at) VALUES ('{"n": 1}', ROW(now() - interval '1 hour'));
RESET ROLE;
SELECT count(*) AS trips_before FROM ho_trip;
DO $$
DECLARE
	q text;
BEGIN
	FOREACH q IN ARRAY ARRAY[
		'SELECT count(*) FROM public.pgq_queue_stats',
		'SELECT count(*) FROM public.pgq_in_flight',
		'SELECT count(*) FROM public.pgq_failures',
		'SELECT count(*) FROM public.pgq_failure_summary',
		'SELECT public.pgq_reclaim()',
		$q$SELECT count(*) FROM public.pgq_consume('ho.castq', 10)$q$,
		$q$SELECT public.pgq_publish('ho.castq', '{"n": 2}')$q$] LOOP
		BEGIN
			EXECUTE q;
		EXCEPTION WHEN OTHERS THEN
			NULL;		-- refusing is fine; running the cast is not
		END;
	END LOOP;
END
$$;
SELECT count(*) FILTER (WHERE who_is_super) AS ran_as_superuser FROM ho_trip;
TRUNCATE ho_trip;
-- and it is not served as a queue at all
SELECT pgq_publish('ho.castq', '{"n": 3}');
SELECT * FROM pgq_consume('ho.castq');

--
-- a generation expression of the owner's own for available_at: not pgq's
-- column, whether there at registration or put there later
--
SET ROLE regress_ho_owner;
CREATE FUNCTION ho.stamp(a timestamptz, b timestamptz, c timestamptz) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN GREATEST(a, b, c); END $$;
CREATE TABLE ho.go (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	created_at timestamptz NOT NULL DEFAULT now(),
	started_at timestamptz, locked_until timestamptz, scheduled_for timestamptz,
	processed_at timestamptz, consumed_count int NOT NULL DEFAULT 0,
	error_detail text, payload jsonb NOT NULL, metadata jsonb NOT NULL DEFAULT '{}',
	lease_holder text,
	available_at timestamptz GENERATED ALWAYS AS (ho.stamp(created_at, scheduled_for, locked_until)) STORED);
RESET ROLE;
SELECT pgq_register_queue('ho.go');
SELECT count(*) FROM pgq_queues WHERE queue_name = 'go';
SET ROLE regress_ho_owner;
SELECT pgq_create_queue('ho.regen');
ALTER TABLE ho.regen DROP COLUMN available_at;
ALTER TABLE ho.regen ADD COLUMN available_at timestamptz
	GENERATED ALWAYS AS (ho.stamp(created_at, scheduled_for, locked_until)) STORED;
RESET ROLE;
SELECT pgq_publish('ho.regen', '{"n": 1}');

-- clean up
SET client_min_messages = warning;
DROP SCHEMA ho CASCADE;
DROP TABLE ho_trip;
DROP OWNED BY regress_ho_owner;
DROP ROLE regress_ho_owner;
SELECT count(*) FROM pgq_queues WHERE queue_schema = 'ho';
