-- stress consumer (-M prepared): lease one message for lease_ms; now and
-- then (late_permille) sleep late_ms, past the lease, before answering;
-- nack poison messages and nack_permille of the others at random; ack the
-- rest.  The fenced ack / nack (with the attempt) and the record of the
-- delivery commit together.  An empty queue: wait 5 ms and poll again.
\set r random(1, 1000)
\set late (:r <= :late_permille)
SELECT count(*) AS got, max(id::text) AS mid, max(attempt) AS att,
	   max(locked_until)::text AS lu,
	   max(CASE WHEN payload @> '{"poison": true}' THEN 1 ELSE 0 END) AS poison
FROM pgq_consume('stress_q', 1, :lease_ms * interval '1 millisecond') \gset
\if :got = 0
\sleep 5 ms
\else
\if :late
\sleep :late_ms ms
\endif
\if :poison = 1 OR :r > 1000 - :nack_permille
BEGIN;
SELECT pgq_nack('stress_q', :mid::uuid,
				CASE WHEN :poison = 1 THEN 'poison' ELSE 'random failure' END,
				:retry_ms * interval '1 millisecond', :att::integer) AS ok \gset
INSERT INTO stress_deliveries (id, attempt, consumer, lease_start, lease_end,
							   action, ok, released_at, attempted_at, late)
SELECT :mid::uuid, :att::integer, :client_id::integer,
	   :lu::timestamptz - :lease_ms * interval '1 millisecond', :lu::timestamptz,
	   'nack', :ok::boolean,
	   CASE WHEN :ok::boolean
			THEN coalesce(q.processed_at, q.locked_until - :retry_ms * interval '1 millisecond') END,
	   clock_timestamp(), :late::boolean
FROM stress_q q WHERE q.id = :mid::uuid;
COMMIT;
\else
BEGIN;
SELECT pgq_ack('stress_q', :mid::uuid, :att::integer) AS ok \gset
INSERT INTO stress_deliveries (id, attempt, consumer, lease_start, lease_end,
							   action, ok, released_at, attempted_at, late)
SELECT :mid::uuid, :att::integer, :client_id::integer,
	   :lu::timestamptz - :lease_ms * interval '1 millisecond', :lu::timestamptz,
	   'ack', :ok::boolean,
	   CASE WHEN :ok::boolean THEN q.processed_at END,
	   clock_timestamp(), :late::boolean
FROM stress_q q WHERE q.id = :mid::uuid;
COMMIT;
\endif
\endif
