# shellcheck shell=bash disable=SC2034 # pid_* are read through ${!pid_var}
# test/bench/stress.sh — `test/bench/run stress`, sourced by test/bench/run
# once its server runs (PGDATABASE=bench exists, $WORK, q, qv, $PGBENCH set).
#
# For $DURATION seconds, on one queue (3 attempts, 1 s leases):
#   $CONSUMERS consumers (scripts/stress_consumer.sql): lease one message,
#     ack it, or nack it (poison messages, and 5% at random); 1% of the time
#     sleep 1.5 s (past the lease) before answering, so the answer must be
#     refused whenever the lease was granted again or reclaimed meanwhile;
#     the delivery (id, attempt, consumer, lease start and end, answer) is
#     recorded in the transaction of the ack / nack;
#   1 publisher (scripts/stress_publisher.sql): batches of 10 at a fixed rate,
#     each message recorded in the publishing statement;
#   1 reclaimer (scripts/stress_reclaimer.sql): pgq_reclaim every 300 ms.
# Then scripts/stress_verify.sql checks in SQL that no two leases of one
# message overlapped in time and that the books balance.  Exit status 1 when
# a check fails.

LEASE_MS=1000
LATE_MS=1500
LATE_PERMILLE=10
NACK_PERMILLE=50
RETRY_MS=50
PUB_BATCH=10
PUB_RATE=${PGQ_STRESS_PUBLISH_RATE:-40} # batches/s: 400 messages/s
PREFILL=2000

echo "== stress: $CONSUMERS consumers, ${DURATION}s, leases ${LEASE_MS} ms, ${LATE_PERMILLE}‰ sleep ${LATE_MS} ms, ${NACK_PERMILLE}‰ random nacks,"
echo "   publisher $((PUB_RATE * PUB_BATCH)) msg/s on top of $PREFILL queued, pgq_reclaim every 300 ms, synchronous_commit off"
q -v prefill="$PREFILL" -f "$SCRIPTS/stress_setup.sql" >/dev/null

stress_pgbench() { # NAME pgbench args...: in the background, logs in $WORK/log
	local name=$1
	shift
	PGOPTIONS="-c synchronous_commit=off" "$PGBENCH" -n -M prepared -T "$DURATION" "$@" bench \
		>"$WORK/log/stress_$name.out" 2>"$WORK/log/stress_$name.err" &
	BG_PIDS+=($!)
}
stress_pgbench consumers -c "$CONSUMERS" -j "$NPROC" \
	-D lease_ms="$LEASE_MS" -D late_ms="$LATE_MS" -D late_permille="$LATE_PERMILLE" \
	-D nack_permille="$NACK_PERMILLE" -D retry_ms="$RETRY_MS" \
	-f "$SCRIPTS/stress_consumer.sql"
pid_consumers=${BG_PIDS[-1]}
stress_pgbench publisher -c 1 -j 1 -R "$PUB_RATE" -D pub_batch="$PUB_BATCH" \
	-f "$SCRIPTS/stress_publisher.sql"
pid_publisher=${BG_PIDS[-1]}
stress_pgbench reclaimer -c 1 -j 1 -f "$SCRIPTS/stress_reclaimer.sql"
pid_reclaimer=${BG_PIDS[-1]}

stress_failed=0
for name in consumers publisher reclaimer; do
	pid_var=pid_$name
	rc=0
	wait "${!pid_var}" || rc=$?
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' "$WORK/log/stress_$name.out")
	if ((rc != 0)) || grep -q 'aborted' "$WORK/log/stress_$name.err"; then
		echo "   $name: pgbench FAILED (exit $rc):"
		grep -m 5 -i 'error' "$WORK/log/stress_$name.err" | sed 's/^/      /'
		stress_failed=1
	else
		echo "   $name: ok, $tps transactions/s"
	fi
done
BG_PIDS=()

echo
echo "== stress: the books"
"$PSQL" -X -q -v ON_ERROR_STOP=1 -P footer=off -f "$SCRIPTS/stress_verify.sql" | tee "$WORK/log/stress_verify.txt"
if grep -q '| FAIL' "$WORK/log/stress_verify.txt"; then stress_failed=1; fi
echo
if ((stress_failed)); then
	echo "stress: FAILED"
	exit 1
fi
if grep -q '| WARN' "$WORK/log/stress_verify.txt"; then
	echo "stress: passed, but a path was not exercised (WARN above)"
else
	echo "stress: passed"
fi
