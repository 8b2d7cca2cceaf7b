-- hand-written B: publish a batch of messages in one statement ...
-- ... then consume and ack (full cycle: 3 commits per message or batch).
INSERT INTO bench_b (payload) SELECT unnest(:payloads::jsonb[]) RETURNING id;
WITH leased AS (
	UPDATE bench_b SET locked_until = now() + interval '1 hour', started_at = now(),
		   consumed_count = consumed_count + 1
	WHERE id IN (SELECT id FROM bench_b
				 WHERE processed_at IS NULL AND available_at <= now()
				   AND consumed_count < 3
				 ORDER BY available_at LIMIT :batch
				 FOR UPDATE SKIP LOCKED)
	RETURNING id, consumed_count, payload, metadata, locked_until, created_at)
SELECT array_agg(id) AS ids, array_agg(payload) AS msgs FROM leased \gset
UPDATE bench_b SET processed_at = now(), locked_until = NULL, error_detail = NULL
WHERE id = ANY (:ids) AND processed_at IS NULL;
