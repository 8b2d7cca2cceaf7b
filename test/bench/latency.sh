# shellcheck shell=bash
# test/bench/latency.sh — sourced by test/bench/run: publish -> delivery
# latency with a consumer already waiting, beside a polling consumer.
#
# A producer publishes $LAT_MESSAGES messages one by one, each in its own
# transaction, a few milliseconds apart.  The consumer under test is already
# inside pgq_consume when each one commits:
#   waiting  pgq_consume(..., wait => '5 s'): woken at the publish's commit
#   polling  pgq_consume(...) and, when it returns nothing, pg_sleep(0.1):
#            the loop of pgmq's read_with_poll with a 100 ms poll
# Latency is the consumer's clock_timestamp() when pgq_consume returns the
# message minus the producer's clock_timestamp() right after its commit, both
# on the same server clock.  p50 and p99 over all messages.

LAT_MESSAGES=${LAT_MESSAGES:-2000}
((SHORT)) && LAT_MESSAGES=500

q <<'EOF' >/dev/null
SELECT pgq_create_queue('bench_latency', lock_duration => '1 minute');
CREATE TABLE bench_latency_sent (n int PRIMARY KEY, committed_at timestamptz NOT NULL);
CREATE TABLE bench_latency_got (mode text, n int, got_at timestamptz NOT NULL);

-- the producer: one publish per transaction, then note when it committed
CREATE PROCEDURE bench_latency_produce(messages int) LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1 .. messages LOOP
		PERFORM pgq_publish('bench_latency', jsonb_build_object('n', i));
		COMMIT;
		INSERT INTO bench_latency_sent VALUES (i, clock_timestamp());
		COMMIT;
		PERFORM pg_sleep(0.002 + random() * 0.008);
	END LOOP;
END $$;

-- a consumer: take messages until it has seen `messages` of them
CREATE PROCEDURE bench_latency_consume(mode text, messages int) LANGUAGE plpgsql AS $$
DECLARE
	m record;
	seen int := 0;
BEGIN
	WHILE seen < messages LOOP
		IF mode = 'waiting' THEN
			SELECT id, payload, attempt INTO m FROM pgq_consume('bench_latency', wait => '5 s');
		ELSE
			SELECT id, payload, attempt INTO m FROM pgq_consume('bench_latency');
		END IF;
		IF m.id IS NULL THEN
			IF mode = 'polling' THEN
				PERFORM pg_sleep(0.1);
			END IF;
			CONTINUE;
		END IF;
		INSERT INTO bench_latency_got VALUES (mode, (m.payload->>'n')::int, clock_timestamp());
		PERFORM pgq_ack('bench_latency', m.id, m.attempt);
		COMMIT;
		seen := seen + 1;
	END LOOP;
END $$;
EOF

# latency_run MODE: one consumer of MODE, one producer, then the figures
latency_run() {
	local mode=$1 consumer
	q -c "TRUNCATE bench_latency_sent; DELETE FROM bench_latency; DELETE FROM bench_latency_got WHERE mode = '$mode'"
	q -c "CALL bench_latency_consume('$mode', $LAT_MESSAGES)" &
	consumer=$!
	sleep 1 # the consumer is waiting (or polling) before the first publish
	q -c "CALL bench_latency_produce($LAT_MESSAGES)"
	wait "$consumer"
}

say ""
say "## Wake-up latency: publish commit -> delivery ($LAT_MESSAGES messages, one consumer)"
say ""
tbl_start "consumer|messages|p50 ms|p99 ms|max ms"
for mode in waiting polling; do
	latency_run "$mode"
	row=$(q -At -F'|' -c "
		SELECT '$mode (' || CASE '$mode' WHEN 'waiting' THEN 'pgq_consume wait => 5 s' ELSE '100 ms poll' END || ')',
			   count(*),
			   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
			   round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2),
			   round(max(ms)::numeric, 2)
		FROM (SELECT 1000 * extract(epoch FROM g.got_at - s.committed_at) AS ms
			  FROM bench_latency_got g JOIN bench_latency_sent s USING (n)
			  WHERE g.mode = '$mode') x")
	tbl_row "$row"
done
tbl_end
say "Target (issue 5): p99 <= 2 ms for the waiting consumer.  Measured from the"
say "moment the producer's COMMIT returned to the moment pgq_consume returned the"
say "message (synchronous_commit on, fsync on)."
