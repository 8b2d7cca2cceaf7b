-- pgq: lease a batch of messages, then ack them all: 2 commits per batch.
SELECT array_agg(id) AS ids, array_agg(payload) AS msgs
FROM pgq_consume('bench_pgq', :batch) \gset
SELECT pgq_ack_batch('bench_pgq', :ids);
