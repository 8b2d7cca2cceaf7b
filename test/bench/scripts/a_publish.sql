-- hand-written A: publish one message (1 commit).
INSERT INTO bench_a (payload) VALUES (:payload) RETURNING id;
