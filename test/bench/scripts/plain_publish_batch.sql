-- commit ceiling: a plain INSERT of a batch of payloads (1 commit).
INSERT INTO bench_plain (payload) SELECT unnest(:payloads::jsonb[]);
