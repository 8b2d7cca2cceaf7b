# shellcheck shell=bash
# test/bench/monitoring.sh — sourced by test/bench/run: how long the DBA's
# views take on a big queue (issue 6: pgq_queue_stats <= 10 ms with 1M ready
# and 1M done rows; pgq_queue_activity <= 50 ms for a day of history).
#
# The queue is filled by plain INSERTs (the statistics do not see those, so
# the gauges are recounted first, as the worker does after a restart), and
# a day of one-minute samples is written into pgq_history directly.  Each
# query runs MON_RUNS times in one psql session; the table shows the median
# and the slowest.

MON_ROWS=${MON_ROWS:-1000000}
((SHORT)) && MON_ROWS=100000
MON_RUNS=20

q <<EOF >/dev/null
SELECT pgq_create_queue('bench_monitor');
INSERT INTO bench_monitor (id, created_at, payload)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
       now() - interval '2 days' + g * interval '1 ms', '{"job": 1}'
FROM generate_series(1, $MON_ROWS) g;
INSERT INTO bench_monitor (id, created_at, started_at, processed_at, consumed_count, payload)
SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(g), 12, '0'))::uuid,
       now() - interval '3 days', now() - interval '3 days', now() - interval '1 day', 1, '{"job": 1}'
FROM generate_series(1, $MON_ROWS) g;
INSERT INTO pgq_history
SELECT 'bench_monitor'::regclass, t, t - interval '1 minute', 100, 100, 95, 3, 1, 1, 2,
       1000, 0, 10, 50, 100000, 95, 12.5, 40, 300, 900
FROM generate_series(now() - interval '1 day', now(), interval '1 minute') t;
VACUUM ANALYZE bench_monitor;
ALTER SYSTEM SET pgq.stats_rebuild_interval = '1s';
SELECT pg_reload_conf();
EOF
# the gauges are exact after the worker's recount; wait for it
for _ in $(seq 1 150); do
	[[ $(q -At -c "SELECT done FROM pgq_queue_stats WHERE queue_name = 'bench_monitor'") == "$MON_ROWS" ]] && break
	q -c "SELECT pg_sleep(0.2)" >/dev/null
done
q -c "ALTER SYSTEM RESET pgq.stats_rebuild_interval" -c "SELECT pg_reload_conf()" >/dev/null

# time_query LABEL SQL: median and max milliseconds over MON_RUNS runs
time_query() {
	local label=$1 sql=$2
	q -At -F'|' <<EOF
CREATE TEMP TABLE t (ms float8);
DO \$\$
DECLARE
	t0 timestamptz;
BEGIN
	FOR i IN 1 .. $MON_RUNS LOOP
		t0 := clock_timestamp();
		PERFORM * FROM ($sql) x;
		INSERT INTO t VALUES (1000 * extract(epoch FROM clock_timestamp() - t0));
	END LOOP;
END \$\$;
SELECT '$label', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
       round(max(ms)::numeric, 2)
FROM t;
EOF
}

say ""
say "## Monitoring on a big queue ($(fmt_rate "$MON_ROWS") ready + $(fmt_rate "$MON_ROWS") done rows, a day of history)"
say ""
tbl_start "query|median ms|max ms|goal ms"
tbl_row "$(time_query "pgq_queue_stats (one queue)" "SELECT * FROM pgq_queue_stats WHERE queue_name = 'bench_monitor'")|10"
tbl_row "$(time_query "pgq_queue_activity (1 day, 1 hour buckets)" "SELECT * FROM pgq_queue_activity('bench_monitor', now() - interval '1 day', '1 hour')")|50"
tbl_row "$(time_query "count(*) of ready rows, for comparison" "SELECT count(*) FROM bench_monitor WHERE processed_at IS NULL")|-"
tbl_end
q -c "SELECT pgq_drop_queue('bench_monitor')" >/dev/null
