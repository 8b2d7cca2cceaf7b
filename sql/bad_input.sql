--
-- bad_input: every argument pgq cannot use is refused with a specific
-- SQLSTATE, and the failed call changes nothing
--
-- After each error, the next query shows the SQLSTATE psql recorded for it
-- and compares a fingerprint of the queue's rows, the catalog of queues and
-- the relations of the schema with the one taken before.
--
\set SHOW_CONTEXT never

SELECT pgq_create_queue('bi_jobs');
SELECT pgq_publish('bi_jobs', '"leased"') AS m \gset
SELECT pgq_publish('bi_jobs', '"ready"') IS NOT NULL AS published;
SELECT payload, attempt FROM pgq_consume('bi_jobs');
CREATE TABLE bi_plain (id int);
CREATE VIEW bi_view AS SELECT * FROM bi_jobs;

CREATE FUNCTION pg_temp.fingerprint() RETURNS text LANGUAGE sql AS $$
    SELECT md5(concat_ws('|',
        (SELECT string_agg(q::text, ';' ORDER BY q.id) FROM public.bi_jobs q),
        (SELECT string_agg(c::text, ';' ORDER BY c.queue::oid) FROM public.pgq_queue_config c),
        (SELECT string_agg(r.relname || r.relpersistence::text, ';' ORDER BY r.relname)
         FROM pg_catalog.pg_class r WHERE r.relnamespace = 'public'::regnamespace)))
$$;
SELECT pg_temp.fingerprint() AS before \gset

-- 22004: a NULL where a value is needed (no pgq function is STRICT, so
-- NULLs are errors, not silent NULL results).
SELECT pgq_publish(NULL, '{"a": 1}');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_publish('bi_jobs', NULL);
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_ack('bi_jobs', NULL);
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_ack_batch('bi_jobs', NULL);
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;

-- The same for every function and every required argument, as a table:
-- each call's SQLSTATE and message.
CREATE FUNCTION pg_temp.error_of(call text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE call;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
SELECT call, pg_temp.error_of('SELECT ' || call) AS error
FROM (VALUES
    ($$pgq_create_queue(NULL)$$),
    ($$pgq_create_queue('bi_new', max_attempts => NULL)$$),
    ($$pgq_create_queue('bi_new', lock_duration => NULL)$$),
    ($$pgq_create_queue('bi_new', retry_delay => NULL)$$),
    ($$pgq_create_queue('bi_new', unlogged => NULL)$$),
    ($$pgq_register_queue(NULL)$$),
    ($$pgq_register_queue('bi_plain', max_attempts => NULL)$$),
    ($$pgq_alter_queue(NULL)$$),
    ($$pgq_drop_queue(NULL)$$),
    ($$pgq_publish(NULL, '{}')$$),
    ($$pgq_publish('bi_jobs', NULL)$$),
    ($$pgq_publish('bi_jobs', '{}', NULL)$$),
    ($$pgq_publish_batch(NULL, ARRAY['{}']::jsonb[])$$),
    ($$pgq_publish_batch('bi_jobs', NULL)$$),
    ($$pgq_publish_batch('bi_jobs', ARRAY['{}', NULL]::jsonb[])$$),
    ($$pgq_publish_batch('bi_jobs', ARRAY['{}']::jsonb[], NULL)$$),
    ($$pgq_consume(NULL)$$),
    ($$pgq_consume('bi_jobs', NULL)$$),
    ($$pgq_consume('bi_jobs', wait => NULL)$$),
    ($$pgq_ack(NULL, gen_random_uuid())$$),
    ($$pgq_ack('bi_jobs', NULL)$$),
    ($$pgq_nack(NULL, gen_random_uuid())$$),
    ($$pgq_nack('bi_jobs', NULL)$$),
    ($$pgq_discard(NULL, gen_random_uuid())$$),
    ($$pgq_discard('bi_jobs', NULL)$$),
    ($$pgq_extend(NULL, gen_random_uuid(), '1 hour')$$),
    ($$pgq_extend('bi_jobs', NULL, '1 hour')$$),
    ($$pgq_extend('bi_jobs', gen_random_uuid(), NULL)$$),
    ($$pgq_ack_batch(NULL, ARRAY[gen_random_uuid()])$$),
    ($$pgq_ack_batch('bi_jobs', NULL)$$),
    ($$pgq_requeue(NULL)$$),
    ($$pgq_purge(NULL)$$),
    ($$pgq_purge('bi_jobs', NULL)$$)
) AS t(call)
ORDER BY call COLLATE "C";
SELECT pg_temp.fingerprint() = :'before' AS unchanged;

-- NULL is fine where it means "not given": metadata_filter, lock_duration
-- of consume, scheduled_for, error, retry_after, attempt, ids of
-- pgq_requeue, and the queue of pgq_reclaim (every queue).
SELECT count(*) AS got FROM pgq_consume('bi_jobs', 0, NULL, '0', NULL);
SELECT pgq_requeue('bi_jobs', NULL) AS requeued;
SELECT pgq_ack('bi_jobs', gen_random_uuid(), NULL) AS acked;

-- 22P02: text that is not valid JSON or a uuid.
SELECT pgq_publish('bi_jobs', '{"a": }');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_publish('bi_jobs', '{"a": 1}', '{tenant: acme}');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_publish_batch('bi_jobs', ARRAY['{"a": 1}', 'nope']::jsonb[]);
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_ack('bi_jobs', 'not-a-uuid');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
-- (A malformed interval is 22007.)
SELECT * FROM pgq_consume('bi_jobs', lock_duration => 'ten minutes');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;

-- 22P05: \u0000 cannot be stored in jsonb, in a payload or in metadata.
SELECT pgq_publish('bi_jobs', '"\u0000"');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_publish('bi_jobs', '{"text": "a\u0000b"}');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_publish('bi_jobs', '{}', '{"k": "\u0000"}');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
-- (Other escapes are fine; they are stored as the characters they stand for.)
SELECT '{"tab": "a\u0009b", "e": "\u00e9"}'::jsonb AS escapes_ok;

-- 22023: values out of range.
-- batch_size must be between 0 and 10000.
SELECT * FROM pgq_consume('bi_jobs', -1);
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT * FROM pgq_consume('bi_jobs', 10001);
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT * FROM pgq_consume('bi_jobs', 2147483647);
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
-- (0 and 10000 are allowed.)
SELECT count(*) AS got FROM pgq_consume('bi_jobs', 0);
BEGIN;
SELECT count(*) AS got FROM pgq_consume('bi_jobs', 10000);
ROLLBACK;
-- A lease must be positive, a wait not negative.
SELECT * FROM pgq_consume('bi_jobs', lock_duration => '0');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT * FROM pgq_consume('bi_jobs', lock_duration => '-5 minutes');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT * FROM pgq_consume('bi_jobs', wait => '-1 second');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_extend('bi_jobs', :'m', '0');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_extend('bi_jobs', :'m', '-1 hour');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
-- An attempt is a positive number.
SELECT pgq_ack('bi_jobs', :'m', 0);
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_nack('bi_jobs', :'m', attempt => -1);
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_discard('bi_jobs', :'m', attempt => 0);
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_extend('bi_jobs', :'m', '1 hour', 0);
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
-- retry_after and older_than cannot be negative.
SELECT pgq_nack('bi_jobs', :'m', 'oops', retry_after => '-1 second');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_purge('bi_jobs', '-1 day');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
-- Metadata is a flat JSON object of strings.
SELECT pgq_publish('bi_jobs', '{}', '["a", "b"]');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_publish('bi_jobs', '{}', '"tenant"');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_publish('bi_jobs', '{}', '{"attempt": 1}');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_publish('bi_jobs', '{}', '{"k": null}');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_publish('bi_jobs', '{}', '{"nested": {"k": "v"}}');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_publish_batch('bi_jobs', ARRAY['{}']::jsonb[], '{"list": ["v"]}');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT * FROM pgq_consume('bi_jobs', metadata_filter => '[]');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
-- At most 10000 messages per batch call.
SELECT count(*) FROM pgq_publish_batch('bi_jobs',
    (SELECT array_agg(jsonb_build_object('n', i)) FROM generate_series(1, 10001) i));
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_ack_batch('bi_jobs',
    (SELECT array_agg(gen_random_uuid()) FROM generate_series(1, 10001)));
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_requeue('bi_jobs',
    (SELECT array_agg(gen_random_uuid()) FROM generate_series(1, 10001)));
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
-- Queue settings: max_attempts >= 0, lock_duration > 0, retry_delay and
-- retention >= 0; retention and reset_retention exclude each other.
SELECT pgq_create_queue('bi_new', max_attempts => -1);
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_create_queue('bi_new', lock_duration => '0');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_create_queue('bi_new', retry_delay => '-1 second');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_create_queue('bi_new', retention => '-1 day');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_alter_queue('bi_jobs', max_attempts => -3);
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_alter_queue('bi_jobs', lock_duration => '-1 hour');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_alter_queue('bi_jobs', retention => '1 day', reset_retention => true);
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_register_queue('bi_plain', lock_duration => '0');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;

-- 2202E: a batch is a one-dimensional array.
SELECT pgq_publish_batch('bi_jobs', ARRAY[['{}', '{}'], ['{}', '{}']]::jsonb[]);
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;

-- 42P01: an unknown queue (the name is read as regclass input).
SELECT pgq_publish('bi_missing', '{}');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT * FROM pgq_consume('"BI_JOBS"');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_drop_queue('bi_missing');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
-- (An unknown schema is 3F000.)
SELECT pgq_publish('bi_nowhere.jobs', '{}');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;

-- 42809: a relation that is not a queue, in every function.  Above all,
-- pgq_drop_queue does not drop a table that is not a queue.
SELECT pgq_drop_queue('bi_plain');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT * FROM pgq_consume('pg_class');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT call, pg_temp.error_of('SELECT ' || call) AS error
FROM (VALUES
    ($$pgq_alter_queue('bi_plain', max_attempts => 1)$$),
    ($$pgq_drop_queue('bi_plain')$$),
    ($$pgq_drop_queue('bi_view')$$),
    ($$pgq_publish('bi_plain', '{}')$$),
    ($$pgq_publish('bi_view', '{}')$$),
    ($$pgq_publish_batch('bi_plain', ARRAY['{}']::jsonb[])$$),
    ($$pgq_consume('bi_plain')$$),
    ($$pgq_consume('bi_jobs_pkey')$$),
    ($$pgq_ack('bi_plain', gen_random_uuid())$$),
    ($$pgq_nack('bi_plain', gen_random_uuid())$$),
    ($$pgq_discard('bi_plain', gen_random_uuid())$$),
    ($$pgq_extend('bi_plain', gen_random_uuid(), '1 hour')$$),
    ($$pgq_ack_batch('bi_plain', ARRAY[gen_random_uuid()])$$),
    ($$pgq_requeue('bi_plain')$$),
    ($$pgq_purge('bi_plain')$$),
    ($$pgq_reclaim('bi_plain')$$),
    ($$pgq_register_queue('bi_view')$$),
    ($$pgq_register_queue('bi_jobs_pkey')$$)
) AS t(call)
ORDER BY call COLLATE "C";
SELECT pg_temp.fingerprint() = :'before' AS unchanged;

-- 42P07: creating a queue whose name is taken, by a queue or by any other
-- relation; also a bare name that would resolve to a relation earlier on
-- the search_path (here pg_catalog.pg_class), since that string would then
-- name another table in every other function.
SELECT pgq_create_queue('bi_jobs');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_create_queue('bi_plain');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_create_queue('bi_jobs_pkey');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_create_queue('pg_class');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
-- (Qualified, the same name is no problem.)
SELECT pgq_create_queue('public.pg_class');
SELECT pgq_drop_queue('public.pg_class');

-- 42622: a name too long.  Identifiers are at most 63 bytes; a queue
-- table's name at most 51 bytes, so that its index names (suffix
-- "_created_idx") fit.  Nothing is truncated.
SELECT pgq_create_queue(repeat('q', 64));
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_create_queue(repeat('q', 52));
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_create_queue(repeat('s', 64) || '.jobs');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;

-- 42602: a string that is not a table name.
SELECT pgq_create_queue('');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_create_queue('""');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_create_queue('"unclosed');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_create_queue('two words');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_create_queue('a.b.c');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;
SELECT pgq_create_queue('public.');
SELECT :'SQLSTATE' AS sqlstate, pg_temp.fingerprint() = :'before' AS unchanged;

-- After all of that the queue still works as before.
SELECT payload, attempt FROM pgq_consume('bi_jobs', 10);
SELECT pgq_ack('bi_jobs', :'m', 1) AS acked;

-- Clean up.
DROP VIEW bi_view;
DROP TABLE bi_plain;
SELECT pgq_drop_queue('bi_jobs');
