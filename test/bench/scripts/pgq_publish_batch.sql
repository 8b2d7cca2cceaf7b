-- pgq: publish a batch of messages in one statement (1 commit).
SELECT pgq_publish_batch('bench_pgq', :payloads);
