-- test/bench/scripts/setup.sql: the contenders' tables, created once per
-- benchmark server (psql, database "bench").
--
--   bench_pgq    a pgq queue (pgq_create_queue: 3 attempts, 1 hour leases)
--   bench_a      hand-written queue A: the dataddo/pgq columns, ordered by
--                created_at through a partial index on unprocessed rows
--   bench_b      hand-written queue B: pgq's own table design (available_at
--                generated column and the same indexes), copied from
--                bench_pgq with LIKE ... INCLUDING ALL, driven by plain SQL
--   bench_plain  the commit ceiling: an id and the same payload, nothing else
\set ON_ERROR_STOP 1
CREATE EXTENSION IF NOT EXISTS pgq;

SELECT pgq_create_queue('bench_pgq');

CREATE TABLE bench_a (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	created_at timestamptz NOT NULL DEFAULT now(),
	started_at timestamptz,
	locked_until timestamptz,
	scheduled_for timestamptz,
	processed_at timestamptz,
	consumed_count integer NOT NULL DEFAULT 0,
	error_detail text,
	payload jsonb NOT NULL,
	metadata jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX bench_a_created_idx ON bench_a (created_at) WHERE processed_at IS NULL;

CREATE TABLE bench_b (LIKE bench_pgq INCLUDING ALL);

CREATE TABLE bench_plain (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	payload jsonb NOT NULL
);
