--
-- names: a queue name is read exactly as regclass input reads it, so the
-- string that created a queue names it in every other function.  Names are
-- quoted wherever pgq builds SQL, and are never truncated.
--
\set SHOW_CONTEXT never
CREATE SCHEMA nm_app;
CREATE SCHEMA "NM Odd.Schema";
CREATE TABLE nm_victim (id int);

-- Run every pgq function with the same queue string; returns what each
-- call reported.  The queue is dropped at the end, with that string too.
CREATE FUNCTION pg_temp.exercise(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r record;
    result text[] := '{}';
BEGIN
    PERFORM pgq_alter_queue(q, max_attempts => 5, retry_delay => '0');
    PERFORM pgq_publish(q, '{"step": 1}', '{"k": "v"}');
    PERFORM pgq_publish_batch(q, ARRAY['{"step": 2}', '{"step": 3}']::jsonb[]);
    SELECT * INTO r FROM pgq_consume(q, metadata_filter => '{"k": "v"}');
    result := result || format('consume=%s', r.payload->>'step');
    result := result || format('extend=%s', pgq_extend(q, r.id, '2 hours', r.attempt) IS NOT NULL);
    result := result || format('ack=%s', pgq_ack(q, r.id, r.attempt));
    SELECT * INTO r FROM pgq_consume(q);
    result := result || format('nack=%s', pgq_nack(q, r.id, 'retry', '0', r.attempt));
    SELECT * INTO r FROM pgq_consume(q);
    result := result || format('discard=%s', pgq_discard(q, r.id, 'bad', attempt => r.attempt));
    result := result || format('requeue=%s', pgq_requeue(q));
    result := result || format('ack_batch=%s',
        (SELECT pgq_ack_batch(q, array_agg(c.id)) FROM pgq_consume(q, 10) c));
    result := result || format('purge=%s', pgq_purge(q));
    result := result || format('reclaim=%s', pgq_reclaim(q));
    PERFORM pgq_drop_queue(q);
    result := result || format('dropped=%s', to_regclass(q) IS NULL);
    RETURN array_to_string(result, ' ');
END
$$;

-- Each string creates a table (shown as regclass prints it, quoted where
-- needed), is listed in pgq_queues under its real schema and name, and
-- works in every function.
CREATE TEMP TABLE nm_names (n serial, name text);
INSERT INTO nm_names (name) VALUES
    ('NmJobs'),                          -- unquoted: folded to lower case
    ('"NmJobs"'),                        -- quoted: kept as written, another table
    ('"nm ""quoted"" q"'),               -- quotes inside a quoted name
    ('"nm; DROP TABLE nm_victim; --"'),  -- semicolons and a comment
    ('select'),                          -- a reserved keyword, unquoted
    ('"order"'),                         -- a reserved keyword, quoted
    ('nm_app.table'),                    -- schema-qualified, keyword table
    ('"NM Odd.Schema"."Odd.Table"'),     -- dots and spaces inside quotes
    ('  nm_padded  '),                   -- surrounding blanks are ignored
    ('nm_café'),                         -- non-ASCII, unquoted
    ('"nm_Ünï 🚀"'),                     -- non-ASCII, quoted
    ('NM_ÉTÉ');                          -- only ASCII letters are folded
SELECT n, name, pgq_create_queue(name)::text AS created FROM nm_names ORDER BY n;
SELECT n, q.queue_schema, q.queue_name
FROM nm_names JOIN pgq_queues q ON q.queue = name::regclass ORDER BY n;
SELECT n, name, pg_temp.exercise(name) AS every_function FROM nm_names ORDER BY n;
SELECT to_regclass('nm_victim') IS NOT NULL AS victim_still_there;

-- The edges of the length rules, counted in bytes.  A table name may be
-- 51 bytes (63 minus the longest suffix pgq appends, "_created_idx"); its
-- index names then are exactly 63 bytes.  52 bytes are refused, and so
-- is a 63-byte name (a valid identifier): nothing is truncated.
SELECT pgq_create_queue(repeat('n', 51));
SELECT relname, octet_length(relname) AS bytes
FROM pg_class WHERE relname LIKE repeat('n', 51) || '%' ORDER BY relname;
SELECT pg_temp.exercise(repeat('n', 51)) AS every_function;
SELECT pgq_create_queue(repeat('n', 52));
SELECT :'SQLSTATE' AS sqlstate;
SELECT pgq_create_queue(repeat('n', 63));
SELECT :'SQLSTATE' AS sqlstate;

-- Multibyte characters count by their bytes: 'nm_' and 24 times 'é' (2
-- bytes each) is 51 bytes and fits; one more 'é' makes 53 bytes, refused
-- although it is only 28 characters.
SELECT pgq_create_queue('nm_' || repeat('é', 24));
SELECT octet_length(relname) AS bytes, char_length(relname) AS characters
FROM pg_class WHERE relname = 'nm_' || repeat('é', 24);
SELECT pg_temp.exercise('nm_' || repeat('é', 24)) AS every_function;
SELECT pgq_create_queue('nm_' || repeat('é', 25));
SELECT :'SQLSTATE' AS sqlstate;

-- A schema name may use the full 63 bytes; 64 bytes are refused.
SELECT format('CREATE SCHEMA %I', repeat('s', 63)) \gexec
SELECT pgq_create_queue(repeat('s', 63) || '.jobs');
SELECT octet_length(queue_schema) AS schema_bytes, queue_name
FROM pgq_queues WHERE queue_schema = repeat('s', 63);
SELECT pg_temp.exercise(repeat('s', 63) || '.jobs') AS every_function;
SELECT pgq_create_queue(repeat('s', 64) || '.jobs');
SELECT :'SQLSTATE' AS sqlstate;

-- Two long names that differ only after byte 63 can never collide: any
-- string longer than 51 bytes is refused by pgq_create_queue, and regclass
-- input (which does truncate) can therefore never reach a queue through a
-- longer spelling.
SELECT pgq_create_queue(repeat('n', 51));
SELECT pgq_publish(repeat('n', 51) || repeat('x', 20), '{}');
SELECT :'SQLSTATE' AS sqlstate;
SELECT pgq_drop_queue(repeat('n', 51));

-- pgq's own object names are not silently changed either: when a name it
-- needs for an index is taken, creating the queue fails and leaves nothing.
CREATE TABLE nm_clash_ready_idx (id int);
SELECT pgq_create_queue('nm_clash');
SELECT :'SQLSTATE' AS sqlstate;
SELECT to_regclass('nm_clash') IS NULL AS no_table,
       (SELECT count(*) FROM pgq_queues WHERE queue_name = 'nm_clash') AS listed;
DROP TABLE nm_clash_ready_idx;

-- The same table name in two schemas gives two queues; the unqualified
-- string means the one found first on the search_path.
SELECT pgq_create_queue('nm_app.twin')::text AS created;
SET search_path = nm_app, public;
SELECT pgq_create_queue('public.twin')::text AS created;
SELECT pgq_publish('twin', '"to nm_app"') IS NOT NULL AS published;
SELECT pgq_publish('public.twin', '"to public"') IS NOT NULL AS published;
RESET search_path;
SELECT pgq_publish('twin', '"to public again"') IS NOT NULL AS published;
SELECT 'nm_app.twin' AS queue, payload FROM nm_app.twin
UNION ALL
SELECT 'public.twin', payload FROM public.twin
ORDER BY 1, 2;

-- Clean up.
SELECT pgq_drop_queue('nm_app.twin');
SELECT pgq_drop_queue('public.twin');
SELECT format('DROP SCHEMA %I', repeat('s', 63)) \gexec
DROP SCHEMA nm_app;
DROP SCHEMA "NM Odd.Schema";
DROP TABLE nm_victim;
