-- hand-written A: lease a batch of messages, then ack them all: 2 commits.
WITH leased AS (
	UPDATE bench_a SET locked_until = now() + interval '1 hour',
		   consumed_count = consumed_count + 1
	WHERE id IN (SELECT id FROM bench_a
				 WHERE processed_at IS NULL
				   AND (locked_until IS NULL OR locked_until < now())
				 ORDER BY created_at LIMIT :batch
				 FOR UPDATE SKIP LOCKED)
	RETURNING id, consumed_count, payload, metadata, locked_until, created_at)
SELECT array_agg(id) AS ids, array_agg(payload) AS msgs FROM leased \gset
UPDATE bench_a SET processed_at = now() WHERE id = ANY (:ids);
