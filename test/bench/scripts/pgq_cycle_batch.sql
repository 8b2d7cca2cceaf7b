-- pgq: publish a batch of messages in one statement ...
-- ... then consume and ack (full cycle: 3 commits per message or batch).
SELECT pgq_publish_batch('bench_pgq', :payloads);
SELECT array_agg(id) AS ids, array_agg(payload) AS msgs
FROM pgq_consume('bench_pgq', :batch) \gset
SELECT pgq_ack_batch('bench_pgq', :ids);
