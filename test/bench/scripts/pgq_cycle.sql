-- pgq: publish one message ...
-- ... then consume and ack (full cycle: 3 commits per message or batch).
SELECT pgq_publish('bench_pgq', :payload);
SELECT id AS mid, attempt AS att, payload AS msg, metadata AS meta,
	   locked_until AS lease_end, created_at AS created
FROM pgq_consume('bench_pgq') \gset
SELECT pgq_ack('bench_pgq', :mid, :att);
