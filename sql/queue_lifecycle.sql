--
-- queue_lifecycle: creating, configuring, adopting and dropping queues
--
\set SHOW_CONTEXT never

-- pgq_create_queue makes an ordinary table and registers it; it returns the
-- table as a regclass.  Defaults: max_attempts 3, lock_duration 1 hour,
-- retry_delay 0, retention NULL (finished rows are kept until purged).
SELECT pgq_create_queue('lc_jobs');

-- The table has the Go library's columns plus pgq's lease_holder and the
-- stored generated column available_at that the dequeue index orders by.
SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default_or_expr,
       a.attgenerated = 's' AS generated
FROM pg_attribute a
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = 'lc_jobs'::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;

-- Its indexes: the primary key, the partial dequeue index on available_at,
-- created_at and processed_at (which the Go library checks for), dead
-- messages by processed_at, and the lease index the reclaim sweep uses.
SELECT indexrelid::regclass AS index, pg_get_indexdef(indexrelid) AS definition
FROM pg_index WHERE indrelid = 'lc_jobs'::regclass
ORDER BY indexrelid::regclass::text;

-- Every setting can be given at creation.
SELECT pgq_create_queue('lc_tuned', max_attempts => 5, lock_duration => '5 minutes',
                        retry_delay => '10 seconds', retention => '7 days');
SELECT pgq_create_queue('lc_fast', max_attempts => 0, unlogged => true);

-- pgq_queues lists every queue with its settings.
SELECT queue, queue_schema, queue_name, max_attempts, lock_duration,
       retry_delay, retention, unlogged, created_at <= now() AS created_before_now
FROM pgq_queues WHERE queue_name LIKE 'lc\_%' ORDER BY queue_name;

-- An unlogged queue is an UNLOGGED table.
SELECT relname, relpersistence FROM pg_class
WHERE relname IN ('lc_jobs', 'lc_fast') ORDER BY relname;

-- pgq_alter_queue changes only the settings it is given (NULL = unchanged).
SELECT pgq_alter_queue('lc_tuned', max_attempts => 7);
SELECT pgq_alter_queue('lc_tuned', retry_delay => '1 minute', retention => '1 day');
SELECT pgq_alter_queue('lc_tuned');
SELECT queue, max_attempts, lock_duration, retry_delay, retention
FROM pgq_queues WHERE queue_name = 'lc_tuned';

-- reset_retention => true goes back to keeping finished rows.
SELECT pgq_alter_queue('lc_tuned', reset_retention => true);
SELECT queue, retention FROM pgq_queues WHERE queue_name = 'lc_tuned';

-- unlogged can be switched both ways.
SELECT pgq_alter_queue('lc_fast', unlogged => false);
SELECT pgq_alter_queue('lc_jobs', unlogged => true);
SELECT queue_name, unlogged FROM pgq_queues
WHERE queue_name IN ('lc_jobs', 'lc_fast') ORDER BY queue_name;
SELECT pgq_alter_queue('lc_jobs', unlogged => false);

-- A changed setting applies at once, also in a session that already used
-- the queue: the lease of the second consume is two hours, not one.
SELECT pgq_publish('lc_jobs', '{"n": 1}') IS NOT NULL AS published;
SELECT pgq_publish('lc_jobs', '{"n": 2}') IS NOT NULL AS published;
SELECT payload, locked_until < now() + interval '61 minutes' AS one_hour_lease
FROM pgq_consume('lc_jobs');
SELECT pgq_alter_queue('lc_jobs', lock_duration => '2 hours');
SELECT payload, locked_until > now() + interval '119 minutes' AS two_hour_lease
FROM pgq_consume('lc_jobs');

-- pgq_drop_queue drops the table and forgets its settings.
SELECT pgq_drop_queue('lc_fast');
SELECT to_regclass('lc_fast') IS NULL AS table_gone;
SELECT count(*) AS settings_left FROM pgq_queue_config WHERE queue::text = 'lc_fast';

-- A plain DROP TABLE also forgets the settings (an event trigger does it),
-- so a new queue of the same name starts from the defaults.
DROP TABLE lc_tuned;
SELECT count(*) AS listed FROM pgq_queues WHERE queue_name = 'lc_tuned';
SELECT pgq_create_queue('lc_tuned');
SELECT queue, max_attempts, retry_delay FROM pgq_queues WHERE queue_name = 'lc_tuned';

-- So does dropping the schema that holds a queue.
CREATE SCHEMA lc_app;
SELECT pgq_create_queue('lc_app.jobs');
SELECT queue, queue_schema, queue_name FROM pgq_queues WHERE queue_schema = 'lc_app';
DROP SCHEMA lc_app CASCADE;
SELECT count(*) AS listed FROM pgq_queues WHERE queue_schema = 'lc_app';

-- A table that is not a registered queue is refused (42809).
CREATE TABLE lc_plain (id int);
SELECT pgq_publish('lc_plain', '{}');
DROP TABLE lc_plain;

-- pgq_register_queue adopts an existing table of the Go library's shape.
-- Here: no primary key and no default on id.  pgq adds them, plus
-- lease_holder, available_at and its indexes; rows already there become
-- messages.
CREATE TABLE lc_adopted (
    id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    locked_until timestamptz,
    scheduled_for timestamptz,
    processed_at timestamptz,
    consumed_count integer NOT NULL DEFAULT 0,
    error_detail text,
    payload jsonb NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}'
);
INSERT INTO lc_adopted (id, payload) VALUES (gen_random_uuid(), '{"old": true}');
SELECT pgq_register_queue('lc_adopted', max_attempts => 2, lock_duration => '10 minutes');
SELECT queue, max_attempts, lock_duration, retry_delay, retention, unlogged
FROM pgq_queues WHERE queue_name = 'lc_adopted';
SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) AS default_or_expr
FROM pg_attribute a
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = 'lc_adopted'::regclass
  AND a.attname IN ('id', 'lease_holder', 'available_at')
ORDER BY a.attnum;
SELECT indexrelid::regclass AS index, indisprimary AS primary_key
FROM pg_index WHERE indrelid = 'lc_adopted'::regclass
ORDER BY indexrelid::regclass::text;
SELECT payload, attempt FROM pgq_consume('lc_adopted');
SELECT pgq_publish('lc_adopted', '{"new": true}') IS NOT NULL AS published;
SELECT payload, attempt FROM pgq_consume('lc_adopted');

-- Registering twice is refused (42710).
SELECT pgq_register_queue('lc_adopted');
SELECT :'SQLSTATE' AS sqlstate;

-- A table lacking a queue column (42703) or with a column of the wrong
-- type (42804) is refused and left as it was.
CREATE TABLE lc_no_metadata (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz, locked_until timestamptz, scheduled_for timestamptz,
    processed_at timestamptz, consumed_count integer NOT NULL DEFAULT 0,
    error_detail text, payload jsonb NOT NULL
);
SELECT pgq_register_queue('lc_no_metadata');
SELECT :'SQLSTATE' AS sqlstate;
CREATE TABLE lc_json_payload (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz, locked_until timestamptz, scheduled_for timestamptz,
    processed_at timestamptz, consumed_count integer NOT NULL DEFAULT 0,
    error_detail text, payload json NOT NULL, metadata jsonb NOT NULL DEFAULT '{}'
);
SELECT pgq_register_queue('lc_json_payload');
SELECT :'SQLSTATE' AS sqlstate;
SELECT count(*) AS columns_added FROM pg_attribute
WHERE attrelid IN ('lc_no_metadata'::regclass, 'lc_json_payload'::regclass)
  AND attname IN ('lease_holder', 'available_at');
SELECT count(*) AS registered FROM pgq_queues
WHERE queue_name IN ('lc_no_metadata', 'lc_json_payload');

-- Only plain tables can be queues (42809).
CREATE VIEW lc_view AS SELECT * FROM lc_adopted;
SELECT pgq_register_queue('lc_view');
SELECT :'SQLSTATE' AS sqlstate;

-- A temporary table cannot be a queue: no other session, nor the
-- background worker, could reach its messages (and a temporary table
-- dropped at the end of its session fires no event trigger).  Creating
-- or adopting one is refused (0A000).
\set VERBOSITY sqlstate
SELECT pgq_create_queue('pg_temp.lc_temp');
CREATE TEMP TABLE lc_temp_adopted (LIKE lc_no_metadata INCLUDING ALL,
                                   metadata jsonb NOT NULL DEFAULT '{}');
SELECT pgq_register_queue('lc_temp_adopted');
\set VERBOSITY default
SELECT count(*) AS temporary_queues
FROM pgq_queue_config c JOIN pg_class r ON r.oid = c.queue
WHERE r.relpersistence = 't';
SET client_min_messages = warning;
DROP TABLE IF EXISTS pg_temp.lc_temp;
RESET client_min_messages;
DROP TABLE lc_temp_adopted;

-- Clean up.
DROP VIEW lc_view;
DROP TABLE lc_no_metadata, lc_json_payload;
SELECT pgq_drop_queue('lc_adopted');
SELECT pgq_drop_queue('lc_tuned');
SELECT pgq_drop_queue('lc_jobs');
SELECT count(*) AS lc_queues_left FROM pgq_queues WHERE queue_name LIKE 'lc\_%';
