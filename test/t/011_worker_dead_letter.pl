# 011_worker_dead_letter.pl — a poison message that kills its consumer
# every time becomes dead after max_attempts, is never lost, and
# pgq_requeue brings it back.
#
# Each round a backend consumes the message with a short lease and is killed
# with SIGKILL (crash restart); the worker reclaims the expired lease.  After
# the last allowed attempt the worker does not make it ready but dead, with
# error_detail 'lease expired after 3 attempts'; consume no longer returns
# it.  pgq_requeue makes it ready again with its attempts reset.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgqTap;

my $max_attempts = 3;

my $node = pgq_node('dead_letter', 'restart_after_crash = on',
	"pgq.reclaim_interval = '200ms'", 'pgq.log_reclaims = on');

$node->safe_psql('postgres', qq{
	CREATE EXTENSION pgq;
	SELECT pgq_create_queue('jobs', max_attempts => $max_attempts);
});
my $id = $node->safe_psql('postgres',
	q{SELECT pgq_publish('jobs', '{"poison": true}')});
my $other = $node->safe_psql('postgres',
	q{SELECT pgq_publish('jobs', '{"poison": false}', scheduled_for => now() + interval '1 hour')});

for my $round (1 .. $max_attempts)
{
	my ($session, $pid, $got_id, $attempt) =
	  hold_lease($node, 'postgres', 'jobs', '1 s');
	is("$got_id $attempt", "$id $round", "round $round: consumed at attempt $round");

	my $log_offset = -s $node->logfile;
	crash_backend($node, $pid);
	close_session($session);

	if ($round < $max_attempts)
	{
		ok( defined wait_until($node, 'postgres',
				"SELECT lease_holder IS NULL AND locked_until IS NULL"
				  . " AND processed_at IS NULL FROM jobs WHERE id = '$id'",
				't', 30),
			"round $round: the worker made the message ready again");
	}
	else
	{
		ok( defined wait_until($node, 'postgres',
				"SELECT processed_at IS NOT NULL FROM jobs WHERE id = '$id'",
				't', 30),
			"round $round: the worker finished the message");
	}
	ok( $node->log_contains(
			qr/^(?!.*statement: )(?=.*reclaimed)(?=.*\Q$id\E)(?=.*"jobs")(?=.*attempt $round\b).*$/m,
			$log_offset),
		"round $round: the reclaim is logged with attempt $round");
}

# ---- dead, with the reason; consume skips it; nothing lost
is( $node->safe_psql('postgres', qq{
	SELECT consumed_count, error_detail, lease_holder IS NULL, locked_until IS NULL
	FROM jobs WHERE id = '$id'}),
	"$max_attempts|lease expired after $max_attempts attempts|t|t",
	'the message is dead: lease expired after 3 attempts');
is( $node->safe_psql('postgres', q{SELECT count(*) FROM pgq_consume('jobs')}),
	'0', 'a dead message is not consumed');
is($node->safe_psql('postgres', 'SELECT count(*) FROM jobs'),
	'2', 'no message was lost');
ok( defined wait_until($node, 'postgres', q{
	SELECT total_reclaimed FROM pgq_workers WHERE database = current_database()},
		'1', 10),
	'pgq_workers counts the last reclaim since the last restart');

# ---- pgq_requeue brings it back
is($node->safe_psql('postgres', q{SELECT pgq_requeue('jobs')}),
	'1', 'pgq_requeue requeues the dead message');
is( $node->safe_psql('postgres', qq{
	SELECT processed_at IS NULL, locked_until IS NULL, consumed_count
	FROM jobs WHERE id = '$id'}),
	't|t|0',
	'the message is ready again with its attempts reset');
is( $node->safe_psql('postgres', q{
	SELECT id || ' ' || attempt || ' ' || (payload->>'poison') FROM pgq_consume('jobs')}),
	"$id 1 true",
	'it is consumable again, at attempt 1, with its payload');
is($node->safe_psql('postgres', "SELECT pgq_ack('jobs', '$id', attempt => 1)"),
	't', 'and can be acked');
is( $node->safe_psql('postgres', qq{
	SELECT processed_at IS NOT NULL AND error_detail IS NULL FROM jobs WHERE id = '$id'}),
	't', 'the message is done');
is( $node->safe_psql('postgres', qq{
	SELECT processed_at IS NULL AND consumed_count = 0 FROM jobs WHERE id = '$other'}),
	't', 'the other message was never touched');

$node->stop;
done_testing();
