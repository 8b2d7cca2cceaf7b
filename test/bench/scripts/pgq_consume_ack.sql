-- pgq: lease the oldest ready message, then ack it with its attempt
-- (fenced), as a consumer does: 2 commits per message.
SELECT id AS mid, attempt AS att, payload AS msg, metadata AS meta,
	   locked_until AS lease_end, created_at AS created
FROM pgq_consume('bench_pgq') \gset
SELECT pgq_ack('bench_pgq', :mid, :att);
