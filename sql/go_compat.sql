--
-- go_compat: pgq and services using Dataddo's Go library (dataddo/pgq)
-- share queue tables.  The statements marked "Go:" are the ones that
-- library runs (see DATADDO.md), with its parameters written as literals:
-- lock duration 1 hour, max consume count 3.  The Go library quotes queue
-- names verbatim, so its queue gc_GoJobs is '"gc_GoJobs"' for pgq.
--

--
-- 1. A table made by the Go library is adopted with pgq_register_queue.
--

-- Go: the queue table and indexes of GenerateCreateTableQuery("gc_GoJobs").
CREATE TABLE IF NOT EXISTS "gc_GoJobs"
(
    id             UUID        DEFAULT gen_random_uuid() NOT NULL PRIMARY KEY,
    created_at     TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP NOT NULL,
    started_at     TIMESTAMPTZ                           NULL,
    locked_until   TIMESTAMPTZ                           NULL,
    scheduled_for  TIMESTAMPTZ                           NULL,
    processed_at   TIMESTAMPTZ                           NULL,
    consumed_count INTEGER     DEFAULT 0                 NOT NULL,
    error_detail   TEXT                                  NULL,
    payload        JSONB                                 NOT NULL,
    metadata       JSONB                                 NOT NULL
);
CREATE INDEX IF NOT EXISTS "gc_GoJobs_created_at_idx" ON "gc_GoJobs" (created_at);
CREATE INDEX IF NOT EXISTS "gc_GoJobs_processed_at_null_idx" ON "gc_GoJobs" (processed_at) WHERE (processed_at IS NULL);

-- Go services were already using it: one message waiting, one leased by a
-- Go consumer (its lease runs for another hour), one done.
-- Go: publish.
WITH published AS (
    INSERT INTO "gc_GoJobs" (scheduled_for, payload, metadata)
    VALUES (NULL, '{"go": "waiting"}', '{}'),
           (NULL, '{"go": "leased"}', '{}'),
           (NULL, '{"go": "done"}', '{}')
    RETURNING id)
SELECT count(*) AS published FROM published;
UPDATE "gc_GoJobs" SET locked_until = now() + interval '1 hour',
       started_at = CURRENT_TIMESTAMP, consumed_count = consumed_count + 1
WHERE payload IN ('{"go": "leased"}', '{"go": "done"}');
UPDATE "gc_GoJobs" SET locked_until = NULL, processed_at = CURRENT_TIMESTAMP
WHERE payload = '{"go": "done"}';

-- Adopting it keeps its columns, rows and indexes, and adds pgq's.
SELECT pgq_register_queue('"gc_GoJobs"', max_attempts => 3);
SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute
WHERE attrelid = '"gc_GoJobs"'::regclass AND attnum > 0 AND NOT attisdropped
ORDER BY attnum;
SELECT indexrelid::regclass AS index FROM pg_index
WHERE indrelid = '"gc_GoJobs"'::regclass ORDER BY indexrelid::regclass::text COLLATE "C";

-- pgq sees the same states: it delivers the waiting message, respects the
-- Go consumer's lease, and leaves the done one alone.
SELECT payload, attempt FROM pgq_consume('"gc_GoJobs"', 10);
SELECT pgq_publish('"gc_GoJobs"', '{"pgq": "new"}') IS NOT NULL AS published;
SELECT payload, attempt FROM pgq_consume('"gc_GoJobs"', 10);

-- Older versions of the library made the table without scheduled_for;
-- adopting such a table adds the column, and scheduling works.
CREATE TABLE IF NOT EXISTS "gc_OldGo"
(
    id             UUID        DEFAULT gen_random_uuid() NOT NULL PRIMARY KEY,
    created_at     TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP NOT NULL,
    started_at     TIMESTAMPTZ                           NULL,
    locked_until   TIMESTAMPTZ                           NULL,
    processed_at   TIMESTAMPTZ                           NULL,
    consumed_count INTEGER     DEFAULT 0                 NOT NULL,
    error_detail   TEXT                                  NULL,
    payload        JSONB                                 NOT NULL,
    metadata       JSONB                                 NOT NULL
);
CREATE INDEX IF NOT EXISTS "gc_OldGo_created_at_idx" ON "gc_OldGo" (created_at);
CREATE INDEX IF NOT EXISTS "gc_OldGo_processed_at_null_idx" ON "gc_OldGo" (processed_at) WHERE (processed_at IS NULL);
SELECT pgq_register_queue('"gc_OldGo"');
SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute
WHERE attrelid = '"gc_OldGo"'::regclass
  AND attname IN ('scheduled_for', 'lease_holder', 'available_at')
ORDER BY attnum;
SELECT pgq_publish('"gc_OldGo"', '{"at": "later"}', scheduled_for => now() + interval '1 hour') IS NOT NULL AS published;
SELECT count(*) AS got FROM pgq_consume('"gc_OldGo"');
SELECT pgq_drop_queue('"gc_OldGo"');

--
-- 2. A queue made by pgq passes the Go library's start-up checks.
--
SELECT pgq_create_queue('"gc_Shared"', max_attempts => 3);

-- Go: the columns of the queue table ...
SELECT column_name
FROM information_schema.columns
WHERE table_catalog = CURRENT_CATALOG
  AND table_schema = CURRENT_SCHEMA
  AND table_name = 'gc_Shared'
ORDER BY ordinal_position;

-- ... include the mandatory ones ...
SELECT m AS missing_column
FROM unnest(ARRAY['id', 'locked_until', 'processed_at', 'consumed_count',
                  'started_at', 'payload', 'metadata', 'scheduled_for']) AS m
WHERE m NOT IN (SELECT column_name FROM information_schema.columns
                WHERE table_schema = CURRENT_SCHEMA AND table_name = 'gc_Shared');

-- Go: ... and valid indexes cover created_at and processed_at.
SELECT
    COUNT(DISTINCT a.attname) >= 2 AS index_exists
FROM
    pg_class t
JOIN
    pg_index ix ON t.oid = ix.indrelid
JOIN
    pg_class i ON i.oid = ix.indexrelid
JOIN
    pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(ix.indkey)
WHERE
    t.relkind IN ('r', 'p')
    AND t.relname = 'gc_Shared'
    AND a.attname = ANY(ARRAY['created_at', 'processed_at'])
    AND ix.indisvalid;

--
-- 3. Go and pgq clients work on the same queue.
--
CREATE TEMP TABLE gc_go_claimed (id uuid, payload jsonb, metadata jsonb,
                                 consumed_count int, locked_until timestamptz);

-- Go: publish two messages in one INSERT.
WITH published AS (
    INSERT INTO "gc_Shared" (scheduled_for, payload, metadata)
    VALUES (NULL, '{"from": "go", "n": 1}', '{}'),
           (NULL, '{"from": "go", "n": 2}', '{"tenant": "acme"}')
    RETURNING id)
SELECT count(*) AS published FROM published;

-- pgq publishes two more.
SELECT pgq_publish('"gc_Shared"', '{"from": "pgq", "n": 3}') IS NOT NULL AS published;
SELECT pgq_publish('"gc_Shared"', '{"from": "pgq", "n": 4}', '{"tenant": "acme"}') IS NOT NULL AS published;

-- Rows written by Go got every pgq column right from the defaults.
SELECT payload, metadata, consumed_count, available_at = created_at AS available_since_created,
       lease_holder IS NULL AS no_holder
FROM "gc_Shared" ORDER BY payload->>'n';

-- pgq consumes what Go published (the two oldest messages).
SELECT payload, metadata, attempt FROM pgq_consume('"gc_Shared"', 2) ORDER BY payload->>'n';

-- Go: claim.  It skips the messages pgq leased and takes what pgq
-- published.
WITH claimed AS (
    UPDATE "gc_Shared" SET locked_until = now() + interval '1 hour', started_at = CURRENT_TIMESTAMP, consumed_count = consumed_count+1
    WHERE id IN (SELECT id FROM "gc_Shared" WHERE (locked_until IS NULL OR locked_until < CURRENT_TIMESTAMP) AND consumed_count < 3 AND processed_at IS NULL AND (scheduled_for IS NULL OR scheduled_for < CURRENT_TIMESTAMP) ORDER BY scheduled_for ASC NULLS LAST, consumed_count ASC, created_at ASC LIMIT 10 FOR UPDATE SKIP LOCKED)
    RETURNING id, payload, metadata, consumed_count, locked_until)
INSERT INTO gc_go_claimed SELECT * FROM claimed;
SELECT payload, metadata, consumed_count, locked_until > now() AS leased
FROM gc_go_claimed ORDER BY payload->>'n';

-- pgq respects the Go consumer's leases: nothing is left to consume.
SELECT count(*) AS got FROM pgq_consume('"gc_Shared"', 10);

-- Each side finishes its messages.  pgq acks message 1 and nacks message
-- 2 (ready again at once); Go acks message 3 and nacks message 4.
SELECT pgq_ack('"gc_Shared"', id, 1) AS acked FROM "gc_Shared" WHERE payload->>'n' = '1';
SELECT pgq_nack('"gc_Shared"', id, 'retry', '0', 1) AS nacked FROM "gc_Shared" WHERE payload->>'n' = '2';
-- Go: ack.
UPDATE "gc_Shared" SET locked_until = NULL, processed_at = CURRENT_TIMESTAMP
WHERE id = (SELECT id FROM gc_go_claimed WHERE payload->>'n' = '3');
-- Go: nack.
UPDATE "gc_Shared" SET locked_until = NULL, error_detail = 'unknown'
WHERE id = (SELECT id FROM gc_go_claimed WHERE payload->>'n' = '4');

-- Go's ready condition and pgq's agree on every row, including a message
-- pgq scheduled for later and one pgq nacked with a delay.
SELECT pgq_publish('"gc_Shared"', '{"from": "pgq", "n": 5}', scheduled_for => now() + interval '1 hour') IS NOT NULL AS published;
SELECT pgq_publish('"gc_Shared"', '{"from": "pgq", "n": 6}', '{"n": "6"}') AS m6 \gset
SELECT payload, attempt FROM pgq_consume('"gc_Shared"', metadata_filter => '{"n": "6"}');
SELECT pgq_nack('"gc_Shared"', :'m6', 'later', '1 hour', 1) AS nacked;
CREATE TEMP VIEW gc_ready AS
SELECT payload,
       (locked_until IS NULL OR locked_until < CURRENT_TIMESTAMP) AND consumed_count < 3
       AND processed_at IS NULL AND (scheduled_for IS NULL OR scheduled_for < CURRENT_TIMESTAMP) AS go_ready,
       processed_at IS NULL AND available_at <= now() AND consumed_count < 3 AS pgq_ready
FROM "gc_Shared";
SELECT * FROM gc_ready ORDER BY payload->>'n';

-- Go: claim one, with its metadata filter (tenant = acme).  The oldest
-- ready acme message by its order (scheduled_for, consumed_count,
-- created_at) is message 2, which pgq nacked.
WITH claimed AS (
    UPDATE "gc_Shared" SET locked_until = now() + interval '1 hour', started_at = CURRENT_TIMESTAMP, consumed_count = consumed_count+1
    WHERE id IN (SELECT id FROM "gc_Shared" WHERE (locked_until IS NULL OR locked_until < CURRENT_TIMESTAMP) AND consumed_count < 3 AND metadata->>'tenant' = 'acme' AND processed_at IS NULL AND (scheduled_for IS NULL OR scheduled_for < CURRENT_TIMESTAMP) ORDER BY scheduled_for ASC NULLS LAST, consumed_count ASC, created_at ASC LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING id, payload, metadata, consumed_count, locked_until)
INSERT INTO gc_go_claimed SELECT * FROM claimed;
SELECT payload, consumed_count FROM gc_go_claimed WHERE payload->>'n' = '2';

-- pgq consumes message 4, which Go nacked: attempt 2.
SELECT payload, attempt FROM pgq_consume('"gc_Shared"', 10);

-- Go: discard message 2 (dead for pgq); pgq acks message 4.
UPDATE "gc_Shared" SET locked_until = NULL, processed_at = CURRENT_TIMESTAMP, error_detail = 'bad payload'
WHERE id = (SELECT id FROM gc_go_claimed WHERE payload->>'n' = '2');
SELECT pgq_ack('"gc_Shared"', id, 2) AS acked FROM "gc_Shared" WHERE payload->>'n' = '4';

-- A Go consumer's unfenced ack simply wins over a pgq lease; the pgq
-- holder's own ack then finds the message finished.
SELECT pgq_publish('"gc_Shared"', '{"from": "pgq", "n": 7}') AS m7 \gset
SELECT payload, attempt FROM pgq_consume('"gc_Shared"', 10);
-- Go: ack.
UPDATE "gc_Shared" SET locked_until = NULL, processed_at = CURRENT_TIMESTAMP WHERE id = :'m7';
SELECT pgq_ack('"gc_Shared"', :'m7', 1) AS late_pgq_ack;

-- A Go lease that runs out is delivered by pgq with the next attempt
-- (available_at follows locked_until, whoever writes it).
SELECT pgq_publish('"gc_Shared"', '{"from": "pgq", "n": 8}') AS m8 \gset
WITH claimed AS (
    UPDATE "gc_Shared" SET locked_until = now() + interval '1 hour', started_at = CURRENT_TIMESTAMP, consumed_count = consumed_count+1
    WHERE id IN (SELECT id FROM "gc_Shared" WHERE (locked_until IS NULL OR locked_until < CURRENT_TIMESTAMP) AND consumed_count < 3 AND processed_at IS NULL AND (scheduled_for IS NULL OR scheduled_for < CURRENT_TIMESTAMP) ORDER BY scheduled_for ASC NULLS LAST, consumed_count ASC, created_at ASC LIMIT 10 FOR UPDATE SKIP LOCKED)
    RETURNING id, payload, metadata, consumed_count, locked_until)
SELECT payload, consumed_count FROM claimed;
SELECT count(*) AS got FROM pgq_consume('"gc_Shared"', 10);
-- Go: shorten the lease (here: to a moment already past).
UPDATE "gc_Shared" SET locked_until = now() - interval '1 second' WHERE id = :'m8';
SELECT payload, attempt FROM pgq_consume('"gc_Shared"', 10);
SELECT pgq_ack('"gc_Shared"', :'m8', 2) AS acked;

-- In the end, the Go tools' view: what is done, and the failures (their
-- README's query).
SELECT payload, processed_at IS NOT NULL AS done, error_detail
FROM "gc_Shared" ORDER BY payload->>'n';
SELECT payload, error_detail FROM "gc_Shared"
WHERE processed_at IS NOT NULL AND error_detail IS NOT NULL;

-- Clean up.
DROP VIEW gc_ready;
SELECT pgq_drop_queue('"gc_Shared"');
SELECT pgq_drop_queue('"gc_GoJobs"');
