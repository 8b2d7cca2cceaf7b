-- hand-written A: publish a batch of messages in one statement (1 commit).
INSERT INTO bench_a (payload) SELECT unnest(:payloads::jsonb[]) RETURNING id;
