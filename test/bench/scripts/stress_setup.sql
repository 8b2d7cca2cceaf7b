-- test/bench/scripts/stress_setup.sql: the queue and the books of the
-- stress check (psql; variable prefill = messages published up front).
\set ON_ERROR_STOP 1
CREATE EXTENSION IF NOT EXISTS pgq;

-- Short leases and 3 attempts, so that leases expire and messages die.
SELECT pgq_create_queue('stress_q', max_attempts => 3,
						lock_duration => '1 second',
						retry_delay => '50 milliseconds');

-- Every message published, written in the publishing transaction.
CREATE TABLE stress_published (
	id uuid PRIMARY KEY,
	published_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Every delivery, written in the transaction of its ack or nack:
--   lease_start, lease_end  the lease pgq granted (lease_end = the
--                           locked_until pgq_consume returned)
--   ok                      what the fenced pgq_ack / pgq_nack returned
--   released_at             when ok: the moment the message left this
--                           consumer (ack, dead: processed_at; nack: the
--                           nack's own time, locked_until - retry_after)
--   attempted_at            clock_timestamp() right after the ack / nack
--   late                    the consumer slept past its lease on purpose
CREATE TABLE stress_deliveries (
	id uuid NOT NULL,
	attempt integer NOT NULL,
	consumer integer NOT NULL,
	lease_start timestamptz NOT NULL,
	lease_end timestamptz NOT NULL,
	action text NOT NULL CHECK (action IN ('ack', 'nack')),
	ok boolean NOT NULL,
	released_at timestamptz,
	attempted_at timestamptz NOT NULL,
	late boolean NOT NULL
);
CREATE INDEX ON stress_deliveries (id, attempt);

-- About 1% poison messages: every consumer nacks them, so they end dead.
WITH p AS (
	SELECT pgq_publish_batch('stress_q', ARRAY(
		SELECT (CASE WHEN random() < 0.01
					 THEN '{"job": "resize", "poison": true}'
					 ELSE '{"job": "resize"}' END)::jsonb
		FROM generate_series(1, :prefill))) AS id)
INSERT INTO stress_published (id) SELECT id FROM p;
