--
-- publish_consume: publishing messages and leasing them
--
SELECT pgq_create_queue('pc_jobs');

-- pgq_publish inserts one row and returns its id.  A new message is ready:
-- never consumed, not leased, not finished, metadata '{}' by default.
SELECT pgq_publish('pc_jobs', '{"n": 1}') AS m1 \gset
SELECT id = :'m1' AS same_id, payload, metadata, consumed_count,
       started_at IS NULL AS never_started, locked_until IS NULL AS not_leased,
       processed_at IS NULL AS unfinished, lease_holder IS NULL AS no_holder
FROM pc_jobs;

-- pgq_consume leases it: attempt 1, locked for the queue's lock_duration
-- (1 hour), held by this session (application_name[pid]).
SELECT id = :'m1' AS same_id, payload, metadata, attempt,
       locked_until BETWEEN now() + interval '59 minutes'
                        AND clock_timestamp() + interval '1 hour' AS one_hour_lease,
       created_at <= now() AS created_before
FROM pgq_consume('pc_jobs');
SELECT consumed_count, started_at IS NOT NULL AS started,
       locked_until > now() AS leased,
       lease_holder = format('%s[%s]', current_setting('application_name'),
                             pg_backend_pid()) AS held_by_me
FROM pc_jobs;

-- While it is leased nobody else gets it.
SELECT count(*) AS got FROM pgq_consume('pc_jobs');

-- ack finishes it: done (processed_at set, error_detail NULL), lease gone.
SELECT pgq_ack('pc_jobs', :'m1', 1) AS acked;
SELECT processed_at IS NOT NULL AS finished, error_detail, locked_until,
       lease_holder FROM pc_jobs;
SELECT count(*) AS got FROM pgq_consume('pc_jobs');

-- Metadata travels with the message.
SELECT pgq_publish('pc_jobs', '{"n": 2}', '{"tenant": "acme", "trace": "t-2"}') IS NOT NULL AS published;
SELECT payload, metadata, attempt FROM pgq_consume('pc_jobs');

-- Any JSON value is a payload: objects, arrays, strings, numbers, null.
SELECT pgq_create_queue('pc_values');
SELECT pgq_publish('pc_values', v) IS NOT NULL AS published
FROM (VALUES ('{"a": [1, 2]}'::jsonb), ('[1, "two"]'), ('"text"'), ('42'), ('null'), ('true')) AS t(v);
SELECT payload, jsonb_typeof(payload) AS type FROM pgq_consume('pc_values', 10) ORDER BY payload::text;

-- pgq_publish_batch publishes an array in one statement and returns the
-- ids in the array's order; the metadata applies to every message.
CREATE TEMP TABLE pc_batch AS
SELECT id, n FROM pgq_publish_batch('pc_jobs',
    ARRAY['{"b": 1}', '{"b": 2}', '{"b": 3}', '{"b": 4}']::jsonb[],
    '{"batch": "yes"}') WITH ORDINALITY AS t(id, n);
SELECT b.n, q.payload, q.metadata FROM pc_batch b JOIN pc_jobs q USING (id) ORDER BY b.n;

-- An empty array publishes nothing.
SELECT count(*) AS ids FROM pgq_publish_batch('pc_jobs', '{}');

-- pgq_consume leases up to batch_size messages at once.
SELECT payload, metadata, attempt FROM pgq_consume('pc_jobs', 3) ORDER BY payload->>'b';
SELECT payload, attempt FROM pgq_consume('pc_jobs', 3);
SELECT count(*) AS got FROM pgq_consume('pc_jobs', 3);

-- batch_size 0 leases nothing.
SELECT pgq_publish('pc_jobs', '{"n": 3}') IS NOT NULL AS published;
SELECT count(*) AS got FROM pgq_consume('pc_jobs', 0);

-- pgq_ack_batch finishes many messages (unfenced) and returns how many it
-- finished; finished ones are not counted again.
SELECT pgq_ack_batch('pc_jobs', array_agg(id)) AS acked FROM pc_batch;
SELECT pgq_ack_batch('pc_jobs', array_agg(id)) AS acked FROM pc_batch;
SELECT pgq_ack_batch('pc_jobs', '{}') AS acked;

-- First in, first out: messages come out in the order they were published
-- (each publish here is its own transaction, so each has its own
-- created_at).
SELECT pgq_create_queue('pc_fifo');
SELECT pgq_publish('pc_fifo', '"first"') IS NOT NULL AS published;
SELECT pgq_publish('pc_fifo', '"second"') IS NOT NULL AS published;
SELECT pgq_publish('pc_fifo', '"third"') IS NOT NULL AS published;
SELECT pgq_publish('pc_fifo', '"fourth"') IS NOT NULL AS published;
SELECT payload FROM pgq_consume('pc_fifo');
SELECT payload FROM pgq_consume('pc_fifo', 2);
SELECT payload FROM pgq_consume('pc_fifo');

-- lock_duration overrides the queue's lease length for one call.
SELECT pgq_publish('pc_fifo', '"short"') IS NOT NULL AS published;
SELECT payload, locked_until BETWEEN now() + interval '4 minutes'
                                 AND clock_timestamp() + interval '5 minutes' AS five_minute_lease
FROM pgq_consume('pc_fifo', lock_duration => '5 minutes');

-- The attempt counts deliveries: a message whose lease ran out is
-- delivered again with the next attempt number.
SELECT pgq_create_queue('pc_attempts', max_attempts => 0);
SELECT pgq_publish('pc_attempts', '"again"') AS m2 \gset
SELECT payload, attempt FROM pgq_consume('pc_attempts', lock_duration => '10 milliseconds');
SELECT pg_sleep(0.05);
SELECT payload, attempt FROM pgq_consume('pc_attempts', lock_duration => '10 milliseconds');
SELECT pg_sleep(0.05);
SELECT payload, attempt FROM pgq_consume('pc_attempts');
SELECT consumed_count FROM pc_attempts;
SELECT pgq_ack('pc_attempts', :'m2', 3) AS acked;

-- A publish takes effect with its transaction: rolled back, never seen.
BEGIN;
SELECT pgq_publish('pc_attempts', '"rolled back"') IS NOT NULL AS published;
SELECT count(*) AS visible_inside FROM pc_attempts WHERE processed_at IS NULL;
ROLLBACK;
SELECT count(*) AS got FROM pgq_consume('pc_attempts');

-- A consume inside a transaction that rolls back undoes the lease and the
-- attempt: the next consume gets attempt 1 again.
SELECT pgq_publish('pc_attempts', '"undone"') IS NOT NULL AS published;
BEGIN;
SELECT payload, attempt FROM pgq_consume('pc_attempts');
ROLLBACK;
SELECT payload, attempt FROM pgq_consume('pc_attempts');

-- Clean up.
SELECT pgq_drop_queue('pc_jobs');
SELECT pgq_drop_queue('pc_values');
SELECT pgq_drop_queue('pc_fifo');
SELECT pgq_drop_queue('pc_attempts');
