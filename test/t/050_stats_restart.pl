# 050_stats_restart.pl — pgq_queue_stats after a crash and an immediate
# shutdown, drift from other clients, and the history the worker samples
# (issue "DBA monitoring" items 1, 4, 5 and 8).
#
# pgq keeps each queue's row counts (ready, dead, done) and its counters in
# shared memory.  A crash restart or an immediate shutdown loses them: the
# counters start again from zero (counters_since moves), the counts are
# NULL until the worker recounts the table and then exact again; what is
# read live (scheduled, in flight) is right at once.  A client that writes
# the table behind pgq's back makes the counts stale until the next recount
# (pgq.stats_rebuild_interval), or, when a count would go negative, at once.
#
# History: with pgq.history_interval = 1s the worker writes a sample of
# every queue each second into pgq_history; pgq_queue_activity sums them
# per bucket (published, done, failed, dead, depth at end, times) and
# pgq_report draws them as sparklines.  Samples older than
# pgq.history_retention are deleted.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgqTap;

my $node = pgq_node('stats_restart', 'restart_after_crash = on',
	"pgq.reclaim_interval = '100ms'", "pgq.history_interval = '1s'");

sub sql { return $node->safe_psql('postgres', $_[0]); }

# The launcher rechecks a database where it found no pgq only every ten
# seconds; a restart makes its first pass find the extension at once.
sql('CREATE EXTENSION pgq');
$node->restart;
sql(q{SELECT pgq_create_queue('jobs')});

# Known contents: 4 ready, 1 scheduled, 1 in flight, 2 dead, 3 done.
sql(q{
	SELECT count(*) FROM pgq_publish_batch('jobs',
		ARRAY(SELECT jsonb_build_object('n', i) FROM generate_series(1, 10) i));
	SELECT pgq_publish('jobs', '{"n": "later"}', scheduled_for => now() + interval '1 hour');
	SELECT pgq_ack('jobs', id, attempt) FROM pgq_consume('jobs', 3);
	SELECT pgq_discard('jobs', id, 'bad', attempt) FROM pgq_consume('jobs', 2);
	SELECT count(*) FROM pgq_consume('jobs', 1, lock_duration => '1 hour');
});

my $counts = q{SELECT concat_ws('|', coalesce(ready::text, 'NULL'), scheduled, in_flight,
	coalesce(dead::text, 'NULL'), coalesce(done::text, 'NULL'), counts_as_of IS NOT NULL)
	FROM pgq_queue_stats WHERE queue = 'jobs'::regclass};
my $counters = q{SELECT concat_ws('|', published, consumed, acked, nacked, discarded,
	extended, reclaimed, expired_dead, requeued, deleted)
	FROM pgq_queue_stats WHERE queue = 'jobs'::regclass};
my $exact = '4|1|1|2|3|t';

is(sql($counts), $exact,
	'before the crash: 4 ready, 1 scheduled, 1 in flight, 2 dead, 3 done');
is(sql($counters), '11|6|3|0|2|0|0|0|0|0', 'and the counters since start');
my $since = sql(q{SELECT counters_since FROM pgq_queue_stats WHERE queue = 'jobs'::regclass});
ok( defined wait_until($node, 'postgres',
		q{SELECT count(*) > 0 FROM pgq_history WHERE queue = 'jobs'::regclass}, 't'),
	'the worker samples the queue into pgq_history');

# after_restart(LABEL): the state of jobs right after a restart, and once
# the worker has recounted it
sub after_restart
{
	my ($label) = @_;
	my $now = sql($counts);
	ok($now eq '4|1|1|NULL|NULL|NULL|f' || $now eq $exact,
		"$label: at once, the counts are unknown (NULL) or already exact")
	  or diag("got $now");
	my $took = wait_until($node, 'postgres', $counts, $exact, 30);
	ok(defined $took, "$label: the worker recounts them exactly");
	note sprintf('%s: recounted after %.2f s', $label, $took) if defined $took;
	is(sql($counters), '0|0|0|0|0|0|0|0|0|0',
		"$label: the counters start again from zero");
	my ($new_since, $later, $lease) = split /\|/, sql(qq{
		SELECT counters_since, counters_since > '$since'::timestamptz,
			   (SELECT count(*) FROM pgq_in_flight
				WHERE queue = 'jobs'::regclass AND attempt = 1)
		FROM pgq_queue_stats WHERE queue = 'jobs'::regclass});
	is($later, 't', "$label: counters_since moved to the restart");
	is($lease, '1', "$label: the lease is still in pgq_in_flight");
	$since = $new_since;
	return;
}

# ---- crash restart: SIGKILL of a backend
my $victim = $node->background_psql('postgres');
my $pid = $victim->query_safe('SELECT pg_backend_pid()');
crash_backend($node, $pid);
close_session($victim);
after_restart('after a crash');
is(sql(q{SELECT count(*) > 0 FROM pgq_history WHERE queue = 'jobs'::regclass
		 AND sampled_at < (SELECT counters_since FROM pgq_queue_stats WHERE queue = 'jobs'::regclass)}),
	't', 'the samples taken before the crash are kept');

# counters count again
sql(q{SELECT pgq_publish('jobs', '{"n": "after crash"}')});
is(sql($counters), '1|0|0|0|0|0|0|0|0|0', 'a publish counts from zero');
is(sql($counts), '5|1|1|2|3|t', 'and moves the exact counts');

# ---- drift: a client that finishes a message behind pgq's back (as the
# Go library's ack does) leaves the counts stale until a recount
sql(q{UPDATE jobs SET processed_at = now(), locked_until = NULL
	  WHERE id = (SELECT id FROM jobs WHERE payload->>'n' = 'after crash')});
is(sql($counts), '5|1|1|2|3|t', 'a plain UPDATE is not seen at once');
sql(q{ALTER SYSTEM SET pgq.stats_rebuild_interval = '1s'; SELECT pg_reload_conf()});
ok(defined wait_until($node, 'postgres', $counts, '4|1|1|2|4|t', 30),
	'with pgq.stats_rebuild_interval the worker recounts: 4 ready, 4 done');
sql(q{ALTER SYSTEM RESET pgq.stats_rebuild_interval; SELECT pg_reload_conf()});

# a count that would go negative is recounted at once: two ready rows made
# dead behind pgq's back, then requeued by pgq (4 requeued, gauge 2 - 4)
sql(q{UPDATE jobs SET processed_at = now(), error_detail = 'outside'
	  WHERE id IN (SELECT id FROM jobs WHERE processed_at IS NULL
				   AND locked_until IS NULL AND scheduled_for IS NULL LIMIT 2)});
is(sql(q{SELECT pgq_requeue('jobs')}), '4', 'pgq_requeue brings back 4 dead rows');
ok(defined wait_until($node, 'postgres', $counts, '6|1|1|0|4|t', 30),
	'the drifted count is recounted: 6 ready, 0 dead');

# ---- immediate shutdown and start
sql(q{SELECT pgq_discard('jobs', id, 'bad', attempt) FROM pgq_consume('jobs', 2)});
sql(q{SELECT pgq_ack('jobs', id) FROM jobs WHERE processed_at IS NULL
	  AND locked_until IS NULL AND scheduled_for IS NULL LIMIT 1});
$exact = '3|1|1|2|5|t';
is(sql($counts), $exact, 'before the shutdown: 3 ready, 2 dead, 5 done');
$node->stop('immediate');
$node->start;
after_restart('after an immediate shutdown');

# ---- history: a new queue, known activity, summed per bucket
sql(q{SELECT pgq_create_queue('hist', max_attempts => 1)});
sql(q{
	SELECT count(*) FROM pgq_publish_batch('hist',
		ARRAY(SELECT jsonb_build_object('n', i) FROM generate_series(1, 7) i));
	SELECT pgq_ack('hist', id, attempt) FROM pgq_consume('hist', 3);
	SELECT pgq_nack('hist', id, 'boom', retry_after => '1 hour') FROM pgq_consume('hist', 1);
	SELECT pgq_discard('hist', id, 'bad payload') FROM pgq_consume('hist', 1);
});
# (max_attempts 1: the nack makes the message dead; nacked counts as failed)
my $activity = q{SELECT concat_ws('|', sum(published), sum(done), sum(failed), sum(dead),
		(array_agg(depth_at_end ORDER BY bucket_start DESC))[1])
	FROM pgq_queue_activity('hist', now() - interval '1 hour', '1 minute')};
my $took = wait_until($node, 'postgres', $activity, '7|3|1|2|2', 30);
ok(defined $took,
	'pgq_queue_activity: 7 published, 3 done, 1 nacked, 2 dead, depth 2 at the end');
my ($samples, $ordered, $finished) = split /\|/, sql(q{
	SELECT (SELECT count(*) > 0 FROM pgq_queue_history WHERE queue = 'hist'::regclass),
		   bool_and(sampled_at > interval_start), sum(finished)
	FROM pgq_history WHERE queue = 'hist'::regclass});
is($samples, 't', 'pgq_queue_history has its samples');
is($ordered, 't', 'each sample covers the interval before it');
is($finished, '5', 'the samples saw 5 messages finish (3 acked, 2 dead)');
is( sql(q{SELECT count(*) FILTER (WHERE wait_avg_ms >= 0 AND wait_p95_ms >= 0
								  AND run_avg_ms >= 0 AND run_p95_ms >= 0) > 0
		  FROM pgq_queue_activity('hist', now() - interval '1 hour', '1 minute')}),
	't', 'with their wait and run times');
is( sql(q{SELECT count(*) FROM pgq_queue_activity('hist', now() - interval '1 hour', '1 hour')}),
	'1', 'one bucket of an hour holds it all');

my $report = sql(q{SELECT pgq_report('hist', '1 hour')});
like($report, qr/\xe2\x96[\x81-\x88]/, 'pgq_report draws sparklines');
like($report, qr/3 done of 7 published/, 'pgq_report: throughput');
like($report, qr/1 nacked, 2 dead/, 'pgq_report: failures');
like($report, qr/ 1  bad payload \(1 dead\)/, 'pgq_report: top errors');
like($report, qr/ 1  boom \(1 dead\)/, 'pgq_report: every error');
note $report;

# ---- retention of the history
sql(q{
	INSERT INTO pgq_history (queue, sampled_at, interval_start, published, consumed,
		acked, nacked, discarded, reclaimed, died, ready, scheduled, in_flight,
		dead, done, finished)
	VALUES ('hist', now() - interval '2 hours', now() - interval '2 hours 1 minute',
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	ALTER SYSTEM SET pgq.history_retention = '1h';
	SELECT pg_reload_conf();
});
ok( defined wait_until($node, 'postgres',
		q{SELECT count(*) FROM pgq_history WHERE sampled_at < now() - interval '1 hour'}, '0', 30),
	'samples older than pgq.history_retention are deleted');
ok( defined wait_until($node, 'postgres', $activity, '7|3|1|2|2', 30),
	'the recent ones are kept');

# ---- dropping a queue forgets its history
sql(q{SELECT pgq_drop_queue('hist')});
is(sql(q{SELECT count(*) FROM pgq_history h WHERE NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = h.queue)}),
	'0', 'a dropped queue leaves no history behind');

$node->stop;
done_testing();
