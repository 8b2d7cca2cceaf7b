-- test/bench/scripts/prefill.sql: put rows straight into a contender's
-- table with one INSERT ... SELECT (no queue functions involved).
--
-- psql variables: t (table), n (rows), kind (ready | leased | finished),
-- base (first row number: ids and created_at derive from it, so successive
-- prefills of one table never collide), payload (jsonb text).
--
--   ready     unprocessed, no lease: consumable, oldest first
--   leased    in flight: consumed once, lease ends a day from now; created
--             before every ready row, i.e. at the head of a created_at order
--   finished  done: processed_at set (kept, as with retention = NULL)
--
-- Ids are built from the row number rather than gen_random_uuid(): random
-- uuids cost a getrandom() system call each, which made a 1M-row prefill
-- several times slower on the VMs this was written on.
\set ON_ERROR_STOP 1
SELECT CASE :'kind'
	WHEN 'finished' THEN now() - interval '30 days'
	WHEN 'leased' THEN now() - interval '20 days'
	ELSE now() - interval '10 days' END AS origin \gset
INSERT INTO :t (id, created_at, started_at, locked_until, processed_at,
				consumed_count, payload)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(:base + g), 12, '0'))::uuid,
	   ts,
	   CASE :'kind' WHEN 'ready' THEN NULL ELSE ts END,
	   CASE :'kind' WHEN 'leased' THEN now() + interval '1 day' END,
	   CASE :'kind' WHEN 'finished' THEN ts + interval '1 second' END,
	   CASE :'kind' WHEN 'ready' THEN 0 ELSE 1 END,
	   :'payload'::jsonb
FROM (SELECT g, :'origin'::timestamptz + (:base + g) * interval '1 ms' AS ts
	  FROM generate_series(1, :n) AS g) AS s;
