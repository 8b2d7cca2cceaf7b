-- hand-written B: publish one message ...
-- ... then consume and ack (full cycle: 3 commits per message or batch).
INSERT INTO bench_b (payload) VALUES (:payload) RETURNING id;
UPDATE bench_b SET locked_until = now() + interval '1 hour', started_at = now(),
	   consumed_count = consumed_count + 1
WHERE id IN (SELECT id FROM bench_b
			 WHERE processed_at IS NULL AND available_at <= now()
			   AND consumed_count < 3
			 ORDER BY available_at LIMIT 1
			 FOR UPDATE SKIP LOCKED)
RETURNING id AS mid, consumed_count AS att, payload AS msg, metadata AS meta,
		  locked_until AS lease_end, created_at AS created \gset
UPDATE bench_b SET processed_at = now(), locked_until = NULL, error_detail = NULL
WHERE id = :mid AND processed_at IS NULL AND consumed_count = :att;
