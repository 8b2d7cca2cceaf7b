-- hand-written A: the usual pattern ordered by created_at, then
-- UPDATE ... SET processed_at: 2 commits per message.
UPDATE bench_a SET locked_until = now() + interval '1 hour',
	   consumed_count = consumed_count + 1
WHERE id IN (SELECT id FROM bench_a
			 WHERE processed_at IS NULL
			   AND (locked_until IS NULL OR locked_until < now())
			 ORDER BY created_at LIMIT 1
			 FOR UPDATE SKIP LOCKED)
RETURNING id AS mid, consumed_count AS att, payload AS msg, metadata AS meta,
		  locked_until AS lease_end, created_at AS created \gset
UPDATE bench_a SET processed_at = now() WHERE id = :mid;
