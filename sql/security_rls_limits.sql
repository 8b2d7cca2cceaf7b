--
-- security_rls_limits: row-level security on a queue table, and input
-- limits (pgq.max_payload_bytes, batch sizes).
--
-- pgq does not serve a queue table with row-level security enabled: a
-- consumer that cannot see some rows would find a silently "empty" queue,
-- and rows it cannot see could never be leased or reclaimed.  Every
-- function refuses such a table with 0A000, superusers included, and
-- pgq_register_queue refuses to adopt one.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE ROLE regress_rls_consumer;
SELECT pgq_create_queue('rls_jobs');
SELECT pgq_create_queue('rls_good');
SELECT pgq_grant('rls_jobs', 'regress_rls_consumer', 'consume');
SELECT pgq_grant('rls_good', 'regress_rls_consumer', 'consume');
SELECT pgq_publish('rls_jobs', '{"n": 1}', '{"tenant": "a"}') IS NOT NULL AS published;
SELECT pgq_publish('rls_jobs', '{"n": 2}', '{"tenant": "b"}') IS NOT NULL AS published;
SELECT pgq_publish('rls_good', '{"n": 1}') IS NOT NULL AS published;
SELECT id AS rls_id FROM rls_jobs WHERE payload = '{"n": 1}' \gset
-- plans are cached in this session before row-level security is enabled
SELECT payload, attempt FROM pgq_consume('rls_jobs', 1);

-- a policy that hides tenant b from the consumer
CREATE POLICY tenant_a ON rls_jobs TO regress_rls_consumer
	USING (metadata->>'tenant' = 'a');
ALTER TABLE rls_jobs ENABLE ROW LEVEL SECURITY;

-- refused by every function, for the consumer and for a superuser alike
SET ROLE regress_rls_consumer;
SELECT * FROM pgq_consume('rls_jobs', 10);
RESET ROLE;
SELECT * FROM pgq_consume('rls_jobs', 10);
\set VERBOSITY sqlstate
SELECT pgq_publish('rls_jobs', '{"n": 3}');
SELECT pgq_publish_batch('rls_jobs', ARRAY['{"n": 3}']::jsonb[]);
SELECT pgq_ack('rls_jobs', :'rls_id');
SELECT pgq_nack('rls_jobs', :'rls_id');
SELECT pgq_discard('rls_jobs', :'rls_id');
SELECT pgq_extend('rls_jobs', :'rls_id', '1 hour');
SELECT pgq_ack_batch('rls_jobs', ARRAY[:'rls_id']::uuid[]);
SELECT pgq_requeue('rls_jobs');
SELECT pgq_purge('rls_jobs');
SELECT pgq_reclaim('rls_jobs');
SELECT pgq_alter_queue('rls_jobs', max_attempts => 5);
SELECT pgq_grant('rls_jobs', 'regress_rls_consumer', 'publish');
SELECT pgq_revoke('rls_jobs', 'regress_rls_consumer', 'publish');
SELECT pgq_drop_queue('rls_jobs');
-- (history, kept by the worker, is not the table: nothing to hide)
SELECT count(*) FROM pgq_queue_activity('rls_jobs');

-- one such queue does not break what works on every queue: sweeping all
-- queues and the monitoring views still serve the others
SELECT pgq_reclaim() IS NOT NULL AS reclaimed_all;
SELECT queue_name FROM pgq_queue_stats WHERE queue_name = 'rls_good';
SELECT count(*) FROM pgq_in_flight WHERE queue = 'rls_good'::regclass;
SELECT count(*) FROM pgq_failures WHERE queue = 'rls_good'::regclass;
SELECT queue_name FROM pgq_queues WHERE queue_name LIKE 'rls\_%' ORDER BY 1;
SET ROLE regress_rls_consumer;
SELECT payload FROM pgq_consume('rls_good');
RESET ROLE;
\set VERBOSITY default

-- FORCE without ENABLE has no effect: served
ALTER TABLE rls_jobs DISABLE ROW LEVEL SECURITY;
ALTER TABLE rls_jobs FORCE ROW LEVEL SECURITY;
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'rls_jobs'::regclass;
SET ROLE regress_rls_consumer;
SELECT payload, attempt FROM pgq_consume('rls_jobs', 10) ORDER BY payload;
RESET ROLE;
ALTER TABLE rls_jobs NO FORCE ROW LEVEL SECURITY;

-- enabled in another transaction that is then rolled back: served again
BEGIN;
ALTER TABLE rls_jobs ENABLE ROW LEVEL SECURITY;
SELECT pgq_ack('rls_jobs', :'rls_id');
ROLLBACK;
SELECT pgq_ack('rls_jobs', :'rls_id');

-- a table with row-level security is not adopted
CREATE TABLE rls_go (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	created_at timestamptz NOT NULL DEFAULT now(),
	started_at timestamptz, locked_until timestamptz, scheduled_for timestamptz,
	processed_at timestamptz, consumed_count int NOT NULL DEFAULT 0,
	error_detail text, payload jsonb NOT NULL, metadata jsonb NOT NULL DEFAULT '{}');
ALTER TABLE rls_go ENABLE ROW LEVEL SECURITY;
SELECT pgq_register_queue('rls_go');
SELECT count(*) FROM pgq_queues WHERE queue_name = 'rls_go';
ALTER TABLE rls_go DISABLE ROW LEVEL SECURITY;
SELECT pgq_register_queue('rls_go');
SELECT pgq_drop_queue('rls_go');

SELECT pgq_drop_queue('rls_jobs');
SELECT pgq_drop_queue('rls_good');
DROP OWNED BY regress_rls_consumer;
DROP ROLE regress_rls_consumer;

--
-- pgq.max_payload_bytes: the largest payload pgq_publish and
-- pgq_publish_batch accept (default 64MB, 0 = no limit), set by superusers
--
SHOW pgq.max_payload_bytes;
SELECT setting, unit, context, min_val, max_val FROM pg_settings WHERE name = 'pgq.max_payload_bytes';
SELECT pgq_create_queue('limit_jobs');
CREATE TEMP TABLE sizes AS
	SELECT '{"data": "0123456789012345678901234567890123456789"}'::jsonb AS payload,
		   pg_column_size('{"data": "0123456789012345678901234567890123456789"}'::jsonb) AS bytes;
SELECT bytes FROM sizes;
-- exactly at the limit: accepted; one byte over: refused, with a hint
SELECT set_config('pgq.max_payload_bytes', bytes::text, false) FROM sizes;
SELECT pgq_publish('limit_jobs', payload) IS NOT NULL AS published FROM sizes;
SELECT count(*) FROM pgq_publish_batch('limit_jobs', ARRAY[(SELECT payload FROM sizes), '{}']);
SELECT set_config('pgq.max_payload_bytes', (bytes - 1)::text, false) FROM sizes;
SELECT pgq_publish('limit_jobs', payload) FROM sizes;
SELECT pgq_publish_batch('limit_jobs', ARRAY['{}', (SELECT payload FROM sizes)]);
SELECT pgq_publish('limit_jobs', '{}') IS NOT NULL AS small_published;
-- units, and a large payload against the default
SET pgq.max_payload_bytes = '1kB';
SHOW pgq.max_payload_bytes;
SELECT pgq_publish('limit_jobs', jsonb_build_object('data', repeat('x', 2000)));
RESET pgq.max_payload_bytes;
SELECT pgq_publish('limit_jobs', jsonb_build_object('data', repeat('x', 2000))) IS NOT NULL AS published;
SET pgq.max_payload_bytes = 0;
SELECT pgq_publish('limit_jobs', jsonb_build_object('data', repeat('x', 100000))) IS NOT NULL AS unlimited;
SET pgq.max_payload_bytes = -1;
RESET pgq.max_payload_bytes;
-- only superusers may change it
CREATE ROLE regress_limit_user;
SET ROLE regress_limit_user;
SET pgq.max_payload_bytes = 0;
SELECT set_config('pgq.max_payload_bytes', '0', false);
RESET ROLE;
DROP ROLE regress_limit_user;
SELECT count(*) AS messages FROM limit_jobs;

--
-- batch sizes: at most 10000 messages per call (22023)
--
\set VERBOSITY sqlstate
SELECT * FROM pgq_consume('limit_jobs', 10001);
SELECT * FROM pgq_consume('limit_jobs', -1);
SELECT count(*) FROM pgq_consume('limit_jobs', 0);
SELECT count(*) FROM pgq_consume('limit_jobs', 10000);
SELECT pgq_publish_batch('limit_jobs', array_fill('{}'::jsonb, ARRAY[10001]));
SELECT pgq_ack_batch('limit_jobs', array_fill('00000000-0000-0000-0000-000000000000'::uuid, ARRAY[10001]));
SELECT pgq_requeue('limit_jobs', array_fill('00000000-0000-0000-0000-000000000000'::uuid, ARRAY[10001]));
SELECT pgq_publish_batch('limit_jobs', ARRAY[['{}', '{}'], ['{}', '{}']]::jsonb[]);
SELECT pgq_ack_batch('limit_jobs', ARRAY[[gen_random_uuid()], [gen_random_uuid()]]);
SELECT pgq_publish_batch('limit_jobs', ARRAY['{}', NULL]::jsonb[]);
\set VERBOSITY default
SELECT * FROM pgq_consume('limit_jobs', 10001);
SELECT pgq_publish_batch('limit_jobs', array_fill('{}'::jsonb, ARRAY[10001]));
BEGIN;
SELECT count(*) FROM pgq_publish_batch('limit_jobs', array_fill('{}'::jsonb, ARRAY[10000]));
SELECT count(*) FROM pgq_consume('limit_jobs', 10000);
SELECT pgq_ack_batch('limit_jobs', ARRAY(SELECT id FROM limit_jobs WHERE processed_at IS NULL LIMIT 10000));
ROLLBACK;
SELECT pgq_drop_queue('limit_jobs');
