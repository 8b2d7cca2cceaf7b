-- pgq: publish one message (1 commit).
SELECT pgq_publish('bench_pgq', :payload);
