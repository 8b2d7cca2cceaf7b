-- commit ceiling: a plain INSERT of the same payload (1 commit).
INSERT INTO bench_plain (payload) VALUES (:payload);
