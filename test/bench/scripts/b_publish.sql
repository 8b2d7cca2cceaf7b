-- hand-written B: publish one message (1 commit).
INSERT INTO bench_b (payload) VALUES (:payload) RETURNING id;
