-- hand-written B: publish a batch of messages in one statement (1 commit).
INSERT INTO bench_b (payload) SELECT unnest(:payloads::jsonb[]) RETURNING id;
