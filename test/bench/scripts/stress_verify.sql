-- test/bench/scripts/stress_verify.sql: the books of the stress check.
-- One row per check: what was found, what was expected, PASS / FAIL; INFO
-- rows are counts for the reader; WARN means a path was not exercised.
\set ON_ERROR_STOP 1
CREATE TEMP VIEW d AS
SELECT s.*,
	   -- until when this consumer held the message: its lease, or less when
	   -- it let go first (ack, nack), or more when a late ack or nack still
	   -- succeeded because nobody had taken the message in the meantime
	   CASE WHEN s.ok THEN s.released_at ELSE s.lease_end END AS held_until
FROM stress_deliveries s;

CREATE TEMP VIEW m AS
SELECT q.id, q.consumed_count, q.processed_at, q.error_detail, q.locked_until,
	   q.payload @> '{"poison": true}' AS poison,
	   CASE WHEN q.processed_at IS NULL THEN 'queued'
			WHEN q.error_detail IS NULL THEN 'done'
			ELSE 'dead' END AS state,
	   (SELECT count(*) FROM d WHERE d.id = q.id) AS deliveries,
	   (SELECT count(*) FROM d WHERE d.id = q.id AND d.action = 'ack' AND d.ok) AS acks
FROM stress_q q;

WITH checks(n, name, found, expected) AS (
	SELECT 1::numeric, 'messages published', (SELECT count(*) FROM stress_published), NULL::bigint
	UNION ALL
	SELECT 2, 'published but missing from the queue, or in the queue but never published',
		(SELECT count(*) FROM stress_published p FULL JOIN stress_q q USING (id)
		 WHERE p.id IS NULL OR q.id IS NULL), 0
	UNION ALL
	SELECT 3, 'done (acked)', (SELECT count(*) FROM m WHERE state = 'done'), NULL
	UNION ALL
	SELECT 4, 'dead', (SELECT count(*) FROM m WHERE state = 'dead'), NULL
	UNION ALL
	SELECT 5, 'still queued (ready, retrying or in flight)', (SELECT count(*) FROM m WHERE state = 'queued'), NULL
	UNION ALL
	SELECT 6, 'books: published - done - dead - queued',
		(SELECT count(*) FROM stress_published)
		- (SELECT count(*) FROM m WHERE state IN ('done', 'dead', 'queued')), 0
	UNION ALL
	SELECT 7, 'done messages not acked exactly once', (SELECT count(*) FROM m WHERE state = 'done' AND acks <> 1), 0
	UNION ALL
	SELECT 8, 'dead or queued messages with a successful ack', (SELECT count(*) FROM m WHERE state <> 'done' AND acks > 0), 0
	UNION ALL
	SELECT 9, 'dead messages neither nacked on their last attempt nor expired on it',
		(SELECT count(*) FROM m WHERE state = 'dead'
		 AND NOT (m.error_detail LIKE 'lease expired after %'
				  OR EXISTS (SELECT FROM d WHERE d.id = m.id AND d.action = 'nack' AND d.ok
							 AND d.attempt = m.consumed_count AND m.consumed_count >= 3))), 0
	UNION ALL
	SELECT 10, 'poison messages acked', (SELECT count(*) FROM m WHERE poison AND state = 'done'), 0
	UNION ALL
	SELECT 11, 'deliveries recorded', (SELECT count(*) FROM d), NULL
	UNION ALL
	SELECT 12, 'messages whose consumed_count differs from their recorded deliveries',
		(SELECT count(*) FROM m WHERE consumed_count <> deliveries), 0
	UNION ALL
	SELECT 13, 'one attempt number delivered twice',
		(SELECT count(*) FROM (SELECT id, attempt FROM d GROUP BY 1, 2 HAVING count(*) > 1) x), 0
	UNION ALL
	SELECT 14, 'leases overlapping in time (two consumers holding one message)',
		(SELECT count(*) FROM d d1 JOIN d d2 ON d1.id = d2.id AND d1.attempt < d2.attempt
		 WHERE d2.lease_start < d1.held_until), 0
	UNION ALL
	SELECT 15, 'deliveries after a successful ack',
		(SELECT count(*) FROM d d1 JOIN d d2 ON d1.id = d2.id AND d2.attempt > d1.attempt
		 WHERE d1.action = 'ack' AND d1.ok), 0
	UNION ALL
	SELECT 16, 'acks / nacks refused while their lease still ran',
		(SELECT count(*) FROM d WHERE NOT ok AND attempted_at <= lease_end), 0
	UNION ALL
	SELECT 17, 'late answers (consumer slept past its lease)', (SELECT count(*) FROM d WHERE late), NULL
	UNION ALL
	SELECT 18, 'late answers refused by the fence (lease re-granted or reclaimed)',
		(SELECT count(*) FROM d WHERE late AND NOT ok), -1
	UNION ALL
	SELECT 18.1, '... of which the message had been leased to another consumer',
		(SELECT count(*) FROM d d1 WHERE late AND NOT ok AND EXISTS (
			SELECT FROM d d2 WHERE d2.id = d1.id AND d2.attempt > d1.attempt
			AND d2.lease_start <= d1.attempted_at)), NULL
	UNION ALL
	SELECT 18.2, '... of which the lease had been reclaimed (and not yet granted again)',
		(SELECT count(*) FROM d d1 WHERE late AND NOT ok AND NOT EXISTS (
			SELECT FROM d d2 WHERE d2.id = d1.id AND d2.attempt > d1.attempt
			AND d2.lease_start <= d1.attempted_at)), NULL
	UNION ALL
	SELECT 19, 'late answers accepted (nobody had taken the message)', (SELECT count(*) FROM d WHERE late AND ok), NULL
	UNION ALL
	SELECT 21, 'nacks accepted', (SELECT count(*) FROM d WHERE action = 'nack' AND ok), NULL
	UNION ALL
	SELECT 22, 'dead after a lease expired on the last attempt (reclaim)',
		(SELECT count(*) FROM m WHERE state = 'dead' AND error_detail LIKE 'lease expired after %'), NULL
)
SELECT name AS check, found,
	   CASE WHEN expected IS NULL THEN '' WHEN expected < 0 THEN '> 0' ELSE expected::text END AS expected,
	   CASE WHEN expected IS NULL THEN 'INFO'
			WHEN expected < 0 THEN CASE WHEN found > 0 THEN 'PASS' ELSE 'WARN' END
			WHEN found = expected THEN 'PASS' ELSE 'FAIL' END AS result
FROM checks ORDER BY n;
